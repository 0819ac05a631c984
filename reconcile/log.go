package reconcile

// Logger is what the reconciliation run logs through: key-value pairs after
// a message. zap's *SugaredLogger is one; the ledger names no logging
// library, so its dependencies stay its own.
type Logger interface {
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
}

type nopLogger struct{}

func (nopLogger) Infow(string, ...any) {}
func (nopLogger) Warnw(string, ...any) {}

// withFields adds the same key-value pairs to every line.
type withFields struct {
	Logger
	fields []any
}

func (w withFields) Infow(msg string, kv ...any) {
	w.Logger.Infow(msg, append(w.fields[:len(w.fields):len(w.fields)], kv...)...)
}
func (w withFields) Warnw(msg string, kv ...any) {
	w.Logger.Warnw(msg, append(w.fields[:len(w.fields):len(w.fields)], kv...)...)
}
