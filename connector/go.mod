module github.com/reboundhq/rebound/connector

go 1.26.8

require (
	github.com/reboundhq/rebound/events v0.0.0
	github.com/reboundhq/rebound/proto v0.0.0
	go.yaml.in/yaml/v3 v3.0.6
	google.golang.org/protobuf v1.36.12
)

require github.com/google/uuid v1.6.0 // indirect

replace (
	github.com/reboundhq/rebound/events => ../events
	github.com/reboundhq/rebound/proto => ../proto
)
