# ---------------------------------------------------------------------------
# External Standard LB: public frontends, rules per published port, outbound SNAT
# ---------------------------------------------------------------------------
resource "azurerm_public_ip" "elb_vpn" {
  name                = "pip-fgt-elb-01"
  location            = azurerm_resource_group.hub.location
  resource_group_name = azurerm_resource_group.hub.name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  domain_name_label   = "contoso-fgt-weu-vpn"
  tags                = var.tags
}

resource "azurerm_public_ip" "elb_services" {
  name                = "pip-fgt-elb-02"
  location            = azurerm_resource_group.hub.location
  resource_group_name = azurerm_resource_group.hub.name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  tags                = var.tags
}

resource "azurerm_lb" "external" {
  name                = "lb-fgt-ext-weu"
  location            = azurerm_resource_group.hub.location
  resource_group_name = azurerm_resource_group.hub.name
  sku                 = "Standard"
  tags                = var.tags

  frontend_ip_configuration {
    name                 = "fe-pip-fgt-elb-01"
    public_ip_address_id = azurerm_public_ip.elb_vpn.id
  }

  frontend_ip_configuration {
    name                 = "fe-pip-fgt-elb-02"
    public_ip_address_id = azurerm_public_ip.elb_services.id
  }
}

resource "azurerm_lb_backend_address_pool" "external" {
  name            = "bep-fgt-external"
  loadbalancer_id = azurerm_lb.external.id
}

resource "azurerm_lb_probe" "external" {
  name                = "probe-fgt-tcp-8008"
  loadbalancer_id     = azurerm_lb.external.id
  protocol            = "Tcp"
  port                = var.probe_port
  interval_in_seconds = 5
  number_of_probes    = 2
}

# IKE and NAT-T terminate ON the FortiGate (port1 private IP) -> floating IP must be disabled.
resource "azurerm_lb_rule" "ike" {
  name                           = "lbr-ike-udp-500"
  loadbalancer_id                = azurerm_lb.external.id
  frontend_ip_configuration_name = "fe-pip-fgt-elb-01"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.external.id]
  probe_id                       = azurerm_lb_probe.external.id
  protocol                       = "Udp"
  frontend_port                  = 500
  backend_port                   = 500
  enable_floating_ip             = false
  disable_outbound_snat          = true
  load_distribution              = "SourceIPProtocol"
}

resource "azurerm_lb_rule" "natt" {
  name                           = "lbr-natt-udp-4500"
  loadbalancer_id                = azurerm_lb.external.id
  frontend_ip_configuration_name = "fe-pip-fgt-elb-01"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.external.id]
  probe_id                       = azurerm_lb_probe.external.id
  protocol                       = "Udp"
  frontend_port                  = 4500
  backend_port                   = 4500
  enable_floating_ip             = false
  disable_outbound_snat          = true
  load_distribution              = "SourceIPProtocol"
}

# Services published behind the FortiGate use floating IP so the FortiGate VIP matches on the public IP.
resource "azurerm_lb_rule" "track_https" {
  name                           = "lbr-track-https-443"
  loadbalancer_id                = azurerm_lb.external.id
  frontend_ip_configuration_name = "fe-pip-fgt-elb-02"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.external.id]
  probe_id                       = azurerm_lb_probe.external.id
  protocol                       = "Tcp"
  frontend_port                  = 443
  backend_port                   = 443
  enable_floating_ip             = true
  enable_tcp_reset               = true
  idle_timeout_in_minutes        = 15
  disable_outbound_snat          = true
}

resource "azurerm_lb_rule" "edi_sftp" {
  name                           = "lbr-edi-sftp-2222"
  loadbalancer_id                = azurerm_lb.external.id
  frontend_ip_configuration_name = "fe-pip-fgt-elb-02"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.external.id]
  probe_id                       = azurerm_lb_probe.external.id
  protocol                       = "Tcp"
  frontend_port                  = 2222
  backend_port                   = 2222
  enable_floating_ip             = true
  enable_tcp_reset               = true
  idle_timeout_in_minutes        = 30
  disable_outbound_snat          = true
}

resource "azurerm_lb_outbound_rule" "fgt_snat" {
  name                     = "obr-fgt-snat"
  loadbalancer_id          = azurerm_lb.external.id
  protocol                 = "All"
  backend_address_pool_id  = azurerm_lb_backend_address_pool.external.id
  allocated_outbound_ports = 31992
  enable_tcp_reset         = true

  frontend_ip_configuration {
    name = "fe-pip-fgt-elb-01"
  }
}

# ---------------------------------------------------------------------------
# Internal Standard LB: one HA ports rule (protocol All, port 0) = next hop for every spoke UDR
# ---------------------------------------------------------------------------
resource "azurerm_lb" "internal" {
  name                = "lb-fgt-int-weu"
  location            = azurerm_resource_group.hub.location
  resource_group_name = azurerm_resource_group.hub.name
  sku                 = "Standard"
  tags                = var.tags

  frontend_ip_configuration {
    name                          = "fe-ilb-10-10-0-70"
    subnet_id                     = azurerm_subnet.internal.id
    private_ip_address_allocation = "Static"
    private_ip_address            = var.ilb_frontend_ip
    zones                         = ["1", "2", "3"]
  }
}

resource "azurerm_lb_backend_address_pool" "internal" {
  name            = "bep-fgt-internal"
  loadbalancer_id = azurerm_lb.internal.id
}

resource "azurerm_lb_probe" "internal" {
  name                = "probe-fgt-tcp-8008"
  loadbalancer_id     = azurerm_lb.internal.id
  protocol            = "Tcp"
  port                = var.probe_port
  interval_in_seconds = 5
  number_of_probes    = 2
}

resource "azurerm_lb_rule" "ha_ports" {
  name                           = "lbr-ha-ports-all"
  loadbalancer_id                = azurerm_lb.internal.id
  frontend_ip_configuration_name = "fe-ilb-10-10-0-70"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.internal.id]
  probe_id                       = azurerm_lb_probe.internal.id
  protocol                       = "All"
  frontend_port                  = 0
  backend_port                   = 0
  enable_floating_ip             = true
  idle_timeout_in_minutes        = 15
}
