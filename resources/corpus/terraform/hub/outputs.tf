output "elb_public_ip_vpn" {
  value       = azurerm_public_ip.elb_vpn.ip_address
  description = "IPsec peers use this address (203.0.113.10 in the documentation)"
}

output "elb_public_ip_services" {
  value = azurerm_public_ip.elb_services.ip_address
}

output "ilb_frontend_ip" {
  value       = var.ilb_frontend_ip
  description = "Next hop (type VirtualAppliance) for every spoke UDR"
}

output "mgmt_public_ips" {
  value = { for k, v in azurerm_public_ip.mgmt : k => v.ip_address }
}
