package webhooks

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// maxPooledBody is the largest buffer kept for reuse. A Stripe event is a
// few KiB; a buffer grown past this by a rare large one goes to the garbage
// collector rather than pinning its memory in the pool.
const maxPooledBody = 64 << 10

// bodyBuffers lends the buffers request bodies are read into. A buffer grows
// only as bytes arrive, never to the Content-Length a client claims: before
// the signature is checked anyone can claim a megabyte and send one byte,
// and a thousand such sockets must cost a thousand bytes, not a gigabyte.
type bodyBuffers struct{ pool sync.Pool }

func (b *bodyBuffers) get() *bytes.Buffer {
	if buf, ok := b.pool.Get().(*bytes.Buffer); ok {
		return buf
	}
	return new(bytes.Buffer)
}

// put gives a buffer back. Call it only once nothing holds the buffer's
// bytes any more.
func (b *bodyBuffers) put(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	b.pool.Put(buf)
}

// readBody reads the whole body within MaxBody into a lent buffer, answering
// the error itself when it cannot. The caller gives the buffer back with
// h.bodies.put once the bytes are no longer used.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, bool) {
	buf := h.bodies.get()
	// ReadFrom grows the buffer by what each read returns, from a small
	// start: memory follows the bytes received.
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.bodies.put(buf)
		h.reject(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
		return nil, false
	case err != nil:
		h.bodies.put(buf)
		h.reject(w, http.StatusBadRequest, CodeUnreadableBody, "the body could not be read")
		return nil, false
	}
	return buf, true
}
