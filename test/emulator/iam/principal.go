// Package iam is the emulated GCP's Identity and Access Management: who
// makes a call (an access token of the form "emulated:<email>" is that
// principal), which roles exist (GCP's predefined roles coopguard meets and
// deploy's custom roles), and whether a principal holds a permission on a
// resource, from the allow policies on the resource and its ancestors —
// organisation, project, and resource (a secret, a service account, a
// topic) — with IAM conditions evaluated in CEL.
package iam

import (
	"context"
	"strings"
)

// TokenPrefix starts every emulated access token: "emulated:<email>".
const TokenPrefix = "emulated:"

// PrincipalFromAuthorization reads the principal's email from an HTTP
// Authorization header or gRPC authorization metadata value. ok is false
// for a missing or foreign token: the call is unauthenticated.
func PrincipalFromAuthorization(value string) (email string, ok bool) {
	tok, found := strings.CutPrefix(value, "Bearer ")
	if !found {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if _, e, vm := cutVMToken(tok); vm {
		tok = TokenPrefix + e
	}
	if _, e, minted := cutMintedToken(tok); minted {
		tok = TokenPrefix + e
	}
	email, found = strings.CutPrefix(tok, TokenPrefix)
	if !found || !strings.Contains(email, "@") {
		return "", false
	}
	return email, true
}

// VMTokenPrefix starts the access token the emulated metadata server hands
// to software on a VM: "emulated-vm:<instance>:<email>", instance being
// "projects/<p>/zones/<z>/instances/<name>". It is the same principal as
// "emulated:<email>"; the gate reads the binding as "this call arrived over
// that VM's network interface", while "emulated:<email>" is a call from
// outside Google Cloud.
const VMTokenPrefix = "emulated-vm:"

// VMToken is the access token the metadata server of instance hands out
// for its attached service account email.
func VMToken(instance, email string) string { return VMTokenPrefix + instance + ":" + email }

// InstanceFromAuthorization returns the instance a VM token in an
// Authorization value is bound to; ok is false for any other value.
func InstanceFromAuthorization(value string) (instance string, ok bool) {
	tok, found := strings.CutPrefix(value, "Bearer ")
	if !found {
		return "", false
	}
	instance, _, ok = cutVMToken(strings.TrimSpace(tok))
	return instance, ok
}

// cutVMToken splits a VM token into its instance and email.
func cutVMToken(tok string) (instance, email string, ok bool) {
	rest, found := strings.CutPrefix(tok, VMTokenPrefix)
	if !found {
		return "", "", false
	}
	instance, email, found = strings.Cut(rest, ":")
	if !found || !strings.HasPrefix(instance, "projects/") || !strings.Contains(instance, "/instances/") {
		return "", "", false
	}
	return instance, email, true
}

// MintedTokenPrefix starts an access token one principal had minted for
// a service account (IAM Credentials generateAccessToken):
// "emulated-minted:<minter>:<email>". It is the account's token; the gate
// records the minter as the first-party principal of the call's
// serviceAccountDelegationInfo, as GCP does for impersonated calls.
const MintedTokenPrefix = "emulated-minted:"

// MintedToken is the access token minter had minted for the account email.
func MintedToken(minter, email string) string { return MintedTokenPrefix + minter + ":" + email }

// MinterFromAuthorization returns who minted the token in an
// Authorization value; ok is false for any token not minted for an
// account.
func MinterFromAuthorization(value string) (minter string, ok bool) {
	tok, found := strings.CutPrefix(value, "Bearer ")
	if !found {
		return "", false
	}
	minter, _, ok = cutMintedToken(strings.TrimSpace(tok))
	return minter, ok
}

// cutMintedToken splits a minted token into its minter and account.
func cutMintedToken(tok string) (minter, email string, ok bool) {
	rest, found := strings.CutPrefix(tok, MintedTokenPrefix)
	if !found {
		return "", "", false
	}
	minter, email, found = strings.Cut(rest, ":")
	if !found || !strings.Contains(minter, "@") || !IsServiceAccount(email) {
		return "", "", false
	}
	return minter, email, true
}

// Member is the IAM policy member of a principal's email: service
// accounts are "serviceAccount:…", everyone else "user:…".
func Member(email string) string {
	if IsServiceAccount(email) {
		return "serviceAccount:" + email
	}
	return "user:" + email
}

// IsServiceAccount reports whether email names a service account (user-
// managed or a Google-managed service agent).
func IsServiceAccount(email string) bool {
	return strings.HasSuffix(email, ".gserviceaccount.com")
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated caller's email.
func WithPrincipal(ctx context.Context, email string) context.Context {
	return context.WithValue(ctx, principalKey{}, email)
}

// PrincipalFrom returns the authenticated caller's email carried by ctx.
func PrincipalFrom(ctx context.Context) (string, bool) {
	e, ok := ctx.Value(principalKey{}).(string)
	return e, ok
}
