// Package webchattest drives the web chat widget (web/widget) in headless
// Chromium against a whole Parley server: the visitor's journey from the
// demo page to the end of a chat, hostile input both ways, an axe-core
// accessibility audit, and screenshots. It has no code of its own.
package webchattest
