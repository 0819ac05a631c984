package notify

// DispatchEvery is Dispatch with its periodic sweep every given interval, so
// a test can tell a notification's wake-up from the tick's.
var DispatchEvery = dispatch
