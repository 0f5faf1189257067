package store

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// File is an uploaded file.
type File struct {
	BusinessID  string
	Name        string
	ContentType string
	Content     []byte
	UploadedAt  time.Time
	UploadedBy  string
}

// PutFile stores a file, replacing one of the same name.
func (s *Store) PutFile(ctx context.Context, f File) (err error) {
	defer fault.Wrap(&err, "store.PutFile(%q, %q)", f.BusinessID, f.Name)
	_, err = s.exec(ctx, `INSERT INTO files (business_id, name, content_type, content, uploaded_at, uploaded_by)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (business_id, name) DO UPDATE SET content_type = excluded.content_type,
		content = excluded.content, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by`,
		f.BusinessID, f.Name, f.ContentType, f.Content, millis(f.UploadedAt), f.UploadedBy)
	return err
}

// GetFile returns a business's file.
func (s *Store) GetFile(ctx context.Context, business, name string) (_ File, err error) {
	defer fault.Wrap(&err, "store.GetFile(%q, %q)", business, name)
	f := File{BusinessID: business, Name: name}
	var at int64
	err = s.db.QueryRowContext(ctx, `SELECT content_type, content, uploaded_at, uploaded_by FROM files
		WHERE business_id = ? AND name = ?`, business, name).Scan(&f.ContentType, &f.Content, &at, &f.UploadedBy)
	f.UploadedAt = fromMillis(at)
	return f, notFoundIf(err, "file %q not found", name)
}
