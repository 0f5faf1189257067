// Package factor is the logic of the second factors beside the emailed
// code, without I/O or HTTP: TOTP (RFC 6238) secrets and codes, recovery
// codes, and the WebAuthn ceremonies. The login service decides when each
// applies and keeps their state in the store.
package factor
