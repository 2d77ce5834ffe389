//go:build !race

package taskrouter

const raceEnabled = false
