package fountain

import "net/http"

// StoredResponse is the response recorded for an idempotency key.
// StatusCode 0 means the first request is still being served.
type StoredResponse struct {
	RequestHash string
	StatusCode  int
	Header      http.Header
	Body        []byte
}
