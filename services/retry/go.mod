module github.com/reboundhq/rebound/services/retry

go 1.26.8

require (
	github.com/reboundhq/rebound/connector v0.0.0
	github.com/reboundhq/rebound/events v0.0.0
	github.com/reboundhq/rebound/proto v0.0.0
	google.golang.org/protobuf v1.36.12
)

require github.com/google/uuid v1.6.0 // indirect

replace (
	github.com/reboundhq/rebound/connector => ../../connector
	github.com/reboundhq/rebound/events => ../../events
	github.com/reboundhq/rebound/proto => ../../proto
)
