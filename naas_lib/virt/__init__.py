"""Nova integration: boot-time provisioning, libvirt interface XML, the os-vif plugin."""
