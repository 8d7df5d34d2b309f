package bus

// WorkerOf returns the worker (of workers) a message on subject goes to.
func WorkerOf(subject string, workers int) int { return workerIndex(orderKey(subject), workers) }
