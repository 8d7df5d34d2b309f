module github.com/reboundhq/rebound/cmd/rebound

go 1.26.8
