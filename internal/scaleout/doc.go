// Package scaleout holds the tests of several Parley nodes working as one
// deployment (PostgreSQL and NATS shared), of faults (NATS down, a node
// gone, kill -9) and nothing else: it has no code of its own.
package scaleout
