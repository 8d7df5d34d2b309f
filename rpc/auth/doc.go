// Package auth authenticates gRPC callers by API key and decides what each caller may see.
//
// # Keys
//
// An API key reads rbk_<key id>_<secret>. The key id is public: it names the key in logs, in
// metrics and in the key store. The secret is 32 random bytes (base32, lower case); only its
// SHA-256 digest is stored (see [Key.Hash]) and it is compared in constant time. A plain key is
// handed out once, by [IssueKey], and never stored or logged anywhere.
//
// Each key is scoped to one [Scope]:
//   - merchant: one merchant account;
//   - warehouse: one warehouse account, which also covers every merchant of that warehouse;
//   - admin: every account.
//
// Keys live in a [KeyStore]: [MemStore] for tests, [KVStore] (the JetStream key-value bucket
// API_KEYS) for real deployments.
//
// # Authorization, and keeping existence hidden
//
// The server authenticates each call and puts the caller's [Principal] in the context
// ([FromContext]). Every RPC then checks the caller against the account of the resource it
// touches, so that a caller never learns whether another account's resource exists:
//
//  1. Before loading, when the request names the account, call [AuthorizeAccount]. A merchant
//     key asking about another merchant gets [ErrPermissionDenied] before anything is loaded,
//     so the answer is the same whether or not the resource exists.
//  2. After loading, call [CheckLoaded] with the resource's account and warehouse and whether it
//     was found. It is the complete check (it repeats step 1): for a warehouse key asking about a
//     merchant, whose warehouse is only known once loaded, "not found" and "another warehouse's
//     merchant" both give the same [ErrPermissionDenied]. When it returns nil and the resource
//     was not found, the caller may be told so (NotFound).
//  3. List queries restrict themselves with [ListFilter].
//
// [Authorize] is the plain rule for a resource whose account and warehouse are known.
package auth
