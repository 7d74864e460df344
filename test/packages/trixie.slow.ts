import { installSuite } from './install-suite'

// Debian 13: node 20.
installSuite('trixie', 20)
