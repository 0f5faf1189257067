package httpapi

// Drain turns /readyz to 503 for good: the instance is about to stop, and
// a load balancer that polls it takes it out of rotation while it still
// serves what it is sent. Call it on SIGTERM, wait the drain period, then
// shut the HTTP servers down.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }
