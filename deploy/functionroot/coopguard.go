// Package coopguard is the root package of the source tree that deploy
// uploads to Cloud Run functions: deploy/deploy.sh copies this file to the
// root of a staged copy of the module. The Go functions buildpack builds the
// package at the root of the upload (it does not read GOOGLE_FUNCTION_SOURCE
// for Go; see deploy/deploy.sh, "function source"), and because this package
// imports the framework's functions package it generates the declarative
// main: a blank import of this package and funcframework.Start. The blank
// import of functions runs its init, which registers every coopguard function
// by name (functions/register.go); FUNCTION_TARGET picks one at run time.
package coopguard

import (
	// Declarative registration: tells the buildpack to use its declarative
	// main template.
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	// Registers Provision, Status, HandleAlert, HandleLogEntry, RotateKeys.
	_ "github.com/cloudcoop/coopguard/functions"
)
