# Overrides of the qubes-whonix-agent formula. Every key and its default is in
# /srv/user_salt/qubes-whonix-agent/defaults.yaml; give here only what you change, for
# example (replace the `{}` below):
#
# qubes-whonix-agent:
#   version: 18
#   gateway:
#     memory: 600
#   workstation:
#     name: anon-whonix-2
#     label: purple
#
# Enable: sudo qubesctl top.enable qubes-whonix-agent pillar=true
qubes-whonix-agent: {}
