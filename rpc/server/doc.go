// Package server is the gRPC and HTTP server every Rebound service runs on. One Server carries
// any number of gRPC services (all of them in `rebound dev`) on REBOUND_GRPC_ADDR and serves
// /metrics, /healthz, /readyz and any pages a service adds on REBOUND_HTTP_ADDR.
//
// Every gRPC call goes through the same interceptors, unary and stream alike:
//
//   - authentication: the call must carry the metadata `authorization: Bearer <api key>`; the
//     caller's auth.Principal is then in the handler's context (auth.FromContext). The gRPC
//     health service (grpc.health.v1.Health) and server reflection (grpc.reflection.v1 and
//     v1alpha) need no key: probes and tools such as grpcurl work without one. Reflection
//     reveals only the service descriptors, which are public in the repository anyway, never data;
//   - recovery: a panicking handler becomes an Internal error, and its stack is logged;
//   - error mapping: handlers return plain errors, which errmap turns into statuses;
//   - one log line per call (method, code, duration_ms, key_id, scope, account and, when the
//     call failed, the error's full text, which the caller never sees for Internal). The API
//     key is never logged. Health and reflection calls log at debug level;
//   - Prometheus metrics: rebound_grpc_requests_total{service,method,code} and
//     rebound_grpc_request_duration_seconds{service,method}.
//
// A service registers itself on [Server.GRPC] before [Server.Run], marks itself serving with
// [Server.SetServing], and checks the caller with the helpers of package auth in each handler.
package server
