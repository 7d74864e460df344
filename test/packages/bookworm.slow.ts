import { installSuite } from './install-suite'

// Debian 12: node 18, the oldest the agent supports.
installSuite('bookworm', 18)
