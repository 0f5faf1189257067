package httpapi

import (
	"encoding/xml"
	"errors"
	"mime"
	"net/http"

	"github.com/bizsec/bizsec/internal/fault"
)

// maxFile bounds an uploaded file.
const maxFile = 5 << 20

type fileWire struct {
	XMLName     xml.Name `json:"-" xml:"File"`
	Name        string   `json:"Name" xml:"Name"`
	ContentType string   `json:"ContentType" xml:"ContentType"`
	Size        int      `json:"Size" xml:"Size"`
}

// putFile uploads a file to a business; its type must pass the tenant's
// AllowedFileTypes and, under AllowedFileTypesStrictPolicy, its sniffed content.
func (s *Server) putFile(w http.ResponseWriter, r *http.Request, q *request) error {
	name := r.PathValue("name")
	ctx := r.Context()
	if err := s.settings.CheckFileName(ctx, q.business, name); err != nil {
		return err // before the content is read
	}
	if err := identityEncoding(r); err != nil {
		return err
	}
	content, err := readAll(w, r, maxFile)
	if errors.Is(err, errTooLarge) {
		return fault.New(fault.Invalid, "the file is larger than %d bytes", maxFile)
	}
	if _, ok := err.(*fault.Error); ok {
		return err
	}
	if err != nil {
		return fault.New(fault.Invalid, "the file could not be read")
	}
	f, err := s.settings.Upload(ctx, q.business, q.session.UserID, name, r.Header.Get("Content-Type"), content, s.now())
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, fileWire{Name: f.Name, ContentType: f.ContentType, Size: len(f.Content)})
	return nil
}

// getFile serves a file as stored, never to be sniffed or shown inline.
func (s *Server) getFile(w http.ResponseWriter, r *http.Request, q *request) error {
	f, err := s.settings.File(r.Context(), q.business.ID, r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	w.Write(f.Content)
	return nil
}
