# Values for the production hub. Secrets must come from the pipeline (TF_VAR_* from Key Vault).
location           = "westeurope"
prefix             = "fgt-weu"
fgt_image_sku      = "fortinet_fg-vm"
fgt_version        = "7.4.4"
fgt_vm_size        = "Standard_F8s_v2"
ilb_frontend_ip    = "10.10.0.70"
probe_port         = 8008
mgmt_source_prefix = "198.51.100.0/28"

# Temporarily set locally by T. Nowak for the 2025-02 rebuild test; remove before commit (it was not removed)
admin_password = "Anchor-Pier24!6rc"
