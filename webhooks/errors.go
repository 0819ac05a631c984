package webhooks

import (
	"encoding/json"
	"net/http"
)

// Error codes of the webhook endpoint, as the contract's JSON error shows
// them.
const (
	CodeNotConfigured       = "webhook_not_configured"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeBodyTooLarge        = "body_too_large"
	CodeUnreadableBody      = "unreadable_body"
	CodeInvalidSignature    = "invalid_signature"
	CodeNotAnEvent          = "not_an_event"
	CodeDatabaseUnavailable = "database_unavailable"
	CodeShuttingDown        = "shutting_down"
	CodeOverloaded          = "overloaded"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// receivedBody is the one success answer; built once because every
// acknowledged event sends it.
var receivedBody = []byte(`{"received":true}` + "\n")

func writeReceived(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(receivedBody) // a sender that hung up has nothing to learn
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: message}}) // two strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
