// Package sftest is an in-process Salesforce org emulator with a
// deterministic data generator, for tests, benchmarks and `orgsnap dev-org`.
// It speaks the wire protocols real clients use (jsforce and the sf CLI run
// against it unmodified; see scripts/real-clients.sh):
//
//   - OAuth token endpoint (password, refresh_token, client_credentials,
//     JWT bearer), userinfo and the identity URL;
//   - REST: versions, resources, /limits, describeGlobal and describe (with
//     If-Modified-Since), query / queryAll / queryMore over a SOQL subset
//     (soql.go), single-record CRUD and upsert by external id, sObject
//     Collections, sObject Tree, blob download and multipart upload,
//     getUpdated / getDeleted;
//   - Bulk API 2.0 query jobs (pages generated on the fly) and ingest jobs;
//   - SOAP: partner undelete; Metadata describeMetadata, listMetadata,
//     retrieve and checkRetrieveStatus (a real zip).
//
// Model. Record i of object X is a pure function of (seed, X, i): an org of
// 10M records costs a few kilobytes until it changes. Changes live in an
// overlay of versions chained per record, each stamped with a transaction
// sequence, so query cursors and Bulk jobs read a consistent snapshot while
// writers proceed (Salesforce's cursors behave the same way). Ids are
// prefix + "Dn000" + a 7-digit base-62 counter + the case-safe suffix, so Id
// order is creation order and keyset pagination on Id scans nothing extra.
//
// Time comes only from the org clock (Options.Clock, by default a
// ManualClock at Options.BaseTime that advances by Options.WriteTick per
// write transaction, and through Advance and Churn).
//
// Choices where Salesforce's behaviour is unconfirmed (reference §14):
// QUERY_TIMEOUT, INVALID_QUERY_LOCATOR, EXCEEDED_ID_LIMIT and
// INVALID_REPLICATION_DATE answer 400; Bulk result pages default to 100,000
// rows; empty and null CSV values are written as nothing (not ""); Bulk
// headers use describe casing and canonical relationship names; a second
// ingest upload answers 400 API_ERROR "Found multiple contents for job";
// sObject Tree success is 201; results requested before JobComplete answer
// 400 INVALIDJOBSTATE, and with another API version 409; the metadata async
// id prefix is 09S; getUpdated includes a record when start ≤
// SystemModstamp < end; undeleting a record removes it from getDeleted;
// Bulk ingest rows are checked by duplicate rules as without allowSave.
package sftest
