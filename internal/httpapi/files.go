package httpapi

import (
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
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
	if name == "" || len(name) > 255 || strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == '\\' || unicode.IsControl(r) }) {
		return fault.New(fault.Invalid, "the file name must be 1 to 255 characters without slashes or control characters")
	}
	ctx := r.Context()
	p := q.policy
	if err := p.Security.CheckText("the file name", name); err != nil {
		return err
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
	claimed := r.Header.Get("Content-Type")
	if err := p.Security.CheckFile(claimed, content); err != nil {
		s.log.InfoContext(ctx, "upload refused", "business", q.business.ID, "claimed", clip(claimed, 80), "reason", fault.MessageOf(err))
		return err
	}
	ct, _, _ := mime.ParseMediaType(claimed)
	if err := s.store.PutFile(ctx, store.File{BusinessID: q.business.ID, Name: name, ContentType: ct, Content: content,
		UploadedAt: s.now(), UploadedBy: q.session.UserID}); err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, fileWire{Name: name, ContentType: ct, Size: len(content)})
	return nil
}

// getFile serves a file as stored, never to be sniffed or shown inline.
func (s *Server) getFile(w http.ResponseWriter, r *http.Request, q *request) error {
	f, err := s.store.GetFile(r.Context(), q.business.ID, r.PathValue("name"))
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
