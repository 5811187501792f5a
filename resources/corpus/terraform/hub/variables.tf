variable "subscription_id" {
  type        = string
  description = "sub-contoso-connectivity"
  default     = "a6f3c2d1-58b4-4e0f-9c7a-2d81e5f0b934"
}

variable "tenant_id" {
  type    = string
  default = "4c1d9e2a-6b7f-4e3a-9d51-0f2c8a7b3e61"
}

variable "client_id" {
  type        = string
  description = "App registration sp-nce-terraform"
  default     = "5e8c1f3a-92d7-4b60-a4e1-0c7f2b9d6a84"
}

variable "client_secret" {
  type        = string
  sensitive   = true
  description = "Client secret of sp-nce-terraform. Normally injected as ARM_CLIENT_SECRET by the pipeline."
  default     = "wKn7Q~xtbO1u8gIhHH0GDU-qqrJNOmK_ZIGiX6Yj"
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "prefix" {
  type    = string
  default = "fgt-weu"
}

variable "vnet_address_space" {
  type    = list(string)
  default = ["10.10.0.0/16"]
}

variable "subnets" {
  description = "FortiGate subnets: port1 external, port2 internal, port3 HA sync, port4 HA management"
  type        = map(string)
  default = {
    external = "10.10.0.0/26"
    internal = "10.10.0.64/26"
    hasync   = "10.10.0.128/27"
    mgmt     = "10.10.0.160/27"
  }
}

variable "fgt_ips" {
  description = "Static private IPs per unit and port"
  type        = map(map(string))
  default = {
    a = { port1 = "10.10.0.4", port2 = "10.10.0.68", port3 = "10.10.0.132", port4 = "10.10.0.164" }
    b = { port1 = "10.10.0.5", port2 = "10.10.0.69", port3 = "10.10.0.133", port4 = "10.10.0.165" }
  }
}

variable "ilb_frontend_ip" {
  type    = string
  default = "10.10.0.70"
}

variable "probe_port" {
  type        = number
  description = "TCP probe port answered by 'config system probe-response' on the primary only"
  default     = 8008
}

variable "fgt_image_sku" {
  type        = string
  description = "fortinet_fg-vm (BYOL) or fortinet_fg-vm_payg_2023 (PAYG)"
  default     = "fortinet_fg-vm"
}

variable "fgt_version" {
  type    = string
  default = "7.4.4"
}

variable "fgt_vm_size" {
  type    = string
  default = "Standard_F8s_v2"
}

variable "admin_username" {
  type    = string
  default = "ncadmin"
}

variable "admin_password" {
  type      = string
  sensitive = true
  default   = "Quay-Buoy41!9oa"
}

variable "mgmt_source_prefix" {
  type    = string
  default = "198.51.100.0/28"
}

variable "tags" {
  type = map(string)
  default = {
    costcenter = "CC-4410-NETWORK"
    owner      = "nce"
    env        = "prod"
    workload   = "hub-firewall"
  }
}
