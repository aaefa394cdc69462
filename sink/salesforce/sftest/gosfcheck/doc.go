// Package gosfcheck drives the sftest emulator with go-salesforce v3, a
// second real Salesforce client besides jsforce: OAuth logins, REST
// single-record calls, sObject Collections, query paging, every Bulk API 2.0
// ingest operation go-salesforce offers (each with a failing row), and a
// Bulk API 2.0 query export. It is a module of its own, so that users of
// retl never get go-salesforce as a dependency; sftest's TestGoSalesforce
// runs it.
package gosfcheck
