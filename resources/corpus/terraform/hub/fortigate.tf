locals {
  units = {
    a = { zone = "1", priority = 200, peer = "b" }
    b = { zone = "2", priority = 100, peer = "a" }
  }
}

resource "azurerm_public_ip" "mgmt" {
  for_each            = local.units
  name                = "pip-fgt-${each.key}-mgmt"
  location            = azurerm_resource_group.hub.location
  resource_group_name = azurerm_resource_group.hub.name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = [each.value.zone]
  tags                = var.tags
}

resource "azurerm_network_interface" "port1" {
  for_each                      = local.units
  name                          = "nic-vm-${var.prefix}-${each.key}-port1"
  location                      = azurerm_resource_group.hub.location
  resource_group_name           = azurerm_resource_group.hub.name
  enable_ip_forwarding          = true
  enable_accelerated_networking = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.external.id
    private_ip_address_allocation = "Static"
    private_ip_address            = var.fgt_ips[each.key].port1
  }
}

resource "azurerm_network_interface" "port2" {
  for_each                      = local.units
  name                          = "nic-vm-${var.prefix}-${each.key}-port2"
  location                      = azurerm_resource_group.hub.location
  resource_group_name           = azurerm_resource_group.hub.name
  enable_ip_forwarding          = true
  enable_accelerated_networking = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.internal.id
    private_ip_address_allocation = "Static"
    private_ip_address            = var.fgt_ips[each.key].port2
  }
}

resource "azurerm_network_interface" "port3" {
  for_each                      = local.units
  name                          = "nic-vm-${var.prefix}-${each.key}-port3"
  location                      = azurerm_resource_group.hub.location
  resource_group_name           = azurerm_resource_group.hub.name
  enable_accelerated_networking = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.hasync.id
    private_ip_address_allocation = "Static"
    private_ip_address            = var.fgt_ips[each.key].port3
  }
}

resource "azurerm_network_interface" "port4" {
  for_each                      = local.units
  name                          = "nic-vm-${var.prefix}-${each.key}-port4"
  location                      = azurerm_resource_group.hub.location
  resource_group_name           = azurerm_resource_group.hub.name
  enable_accelerated_networking = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.mgmt.id
    private_ip_address_allocation = "Static"
    private_ip_address            = var.fgt_ips[each.key].port4
    public_ip_address_id          = azurerm_public_ip.mgmt[each.key].id
  }
}

resource "azurerm_network_interface_backend_address_pool_association" "external" {
  for_each                = local.units
  network_interface_id    = azurerm_network_interface.port1[each.key].id
  ip_configuration_name   = "ipconfig1"
  backend_address_pool_id = azurerm_lb_backend_address_pool.external.id
}

resource "azurerm_network_interface_backend_address_pool_association" "internal" {
  for_each                = local.units
  network_interface_id    = azurerm_network_interface.port2[each.key].id
  ip_configuration_name   = "ipconfig1"
  backend_address_pool_id = azurerm_lb_backend_address_pool.internal.id
}

resource "azurerm_linux_virtual_machine" "fgt" {
  for_each                        = local.units
  name                            = "vm-${var.prefix}-${each.key}"
  location                        = azurerm_resource_group.hub.location
  resource_group_name             = azurerm_resource_group.hub.name
  size                            = var.fgt_vm_size
  zone                            = each.value.zone
  admin_username                  = var.admin_username
  admin_password                  = var.admin_password
  disable_password_authentication = false
  tags                            = var.tags

  # Order matters: the first NIC becomes port1 inside FortiOS.
  network_interface_ids = [
    azurerm_network_interface.port1[each.key].id,
    azurerm_network_interface.port2[each.key].id,
    azurerm_network_interface.port3[each.key].id,
    azurerm_network_interface.port4[each.key].id,
  ]

  identity {
    type = "SystemAssigned" # used by the SDN connector (use-metadata-iam enable)
  }

  source_image_reference {
    publisher = "fortinet"
    offer     = "fortinet_fortigate-vm_v5"
    sku       = var.fgt_image_sku
    version   = var.fgt_version
  }

  plan {
    name      = var.fgt_image_sku
    publisher = "fortinet"
    product   = "fortinet_fortigate-vm_v5"
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
  }

  boot_diagnostics {}

  custom_data = base64encode(templatefile("${path.module}/templates/fgt-bootstrap.tftpl", {
    hostname      = "fgt-weu-${each.key}"
    port1_ip      = var.fgt_ips[each.key].port1
    port2_ip      = var.fgt_ips[each.key].port2
    port3_ip      = var.fgt_ips[each.key].port3
    port4_ip      = var.fgt_ips[each.key].port4
    ha_priority   = each.value.priority
    ha_peer_ip    = var.fgt_ips[each.value.peer].port3
    ext_gateway   = "10.10.0.1"
    int_gateway   = "10.10.0.65"
    mgmt_gateway  = "10.10.0.161"
  }))
}

resource "azurerm_managed_disk" "log" {
  for_each             = local.units
  name                 = "disk-vm-${var.prefix}-${each.key}-log"
  location             = azurerm_resource_group.hub.location
  resource_group_name  = azurerm_resource_group.hub.name
  storage_account_type = "Premium_LRS"
  create_option        = "Empty"
  disk_size_gb         = 30
  zone                 = each.value.zone
}

resource "azurerm_virtual_machine_data_disk_attachment" "log" {
  for_each           = local.units
  managed_disk_id    = azurerm_managed_disk.log[each.key].id
  virtual_machine_id = azurerm_linux_virtual_machine.fgt[each.key].id
  lun                = 0
  caching            = "ReadWrite"
}

# The SDN connector only needs to READ (dynamic address objects) in the LB design.
resource "azurerm_role_assignment" "fgt_reader" {
  for_each             = local.units
  scope                = "/subscriptions/${var.subscription_id}"
  role_definition_name = "Reader"
  principal_id         = azurerm_linux_virtual_machine.fgt[each.key].identity[0].principal_id
}
