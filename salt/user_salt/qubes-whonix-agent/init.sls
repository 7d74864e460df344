# Everything qubes-whonix-agent needs in dom0: the Whonix templates, sys-whonix (and its Tor,
# when the pillar says so),
# anon-whonix, the disposable template and the qrexec policy.
# Apply: sudo qubesctl state.apply qubes-whonix-agent
include:
  - qubes-whonix-agent.templates
  - qubes-whonix-agent.gateway
  - qubes-whonix-agent.tor
  - qubes-whonix-agent.disposable
  - qubes-whonix-agent.workstation
  - qubes-whonix-agent.policy
