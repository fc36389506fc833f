package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// BenchmarkRevocation measures what a revocation check costs per request
// against a real redis-server on loopback, beside validate's in-memory
// DenyList and the signature floor (golang-jwt's check of one token's
// signature alone, as validate's BenchmarkSignatureFloor): read the ratios
// within one run. Each list holds 1000 entries that do not match.
//
//	floor/*          the signature check of a token
//	revoked/*        the list's Revoked alone
//	verify_cached/*  Validator.Verify of a cached token: no store, or one
//	parallel/*       Revoked from GOMAXPROCS goroutines (ns per check)
func BenchmarkRevocation(b *testing.B) {
	srv, prefix := sharedServer(b)
	ctx := context.Background()
	is := validatetest.NewIssuer(b, &validatetest.Options{Audience: []string{resource}})
	red, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: srv.client(b), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	mem, err := validate.NewDenyList(validate.DenyListConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 1000 {
		other := fmt.Sprint("user-", i)
		if err := red.RevokeSubject(ctx, is.URL, other, now); err != nil {
			b.Fatal(err)
		}
		if err := mem.RevokeSubject(is.URL, other, now); err != nil {
			b.Fatal(err)
		}
	}
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run("floor/"+alg, func(b *testing.B) {
			tok := is.TokenWith(validatetest.TokenOptions{Alg: alg}, nil)
			i := strings.LastIndexByte(tok, '.')
			sig, err := jwt.NewParser().DecodeSegment(tok[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			key, m := is.PublicKey(is.Kid(alg)), jwt.GetSigningMethod(alg)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := m.Verify(tok[:i], sig, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	claims := &validate.Claims{Issuer: is.URL, ID: "a-jti", ClientID: "app", Subject: "alice", SessionID: "sid", IssuedAt: now}
	lists := []struct {
		name string
		rev  validate.Revocations
	}{{"none", nil}, {"denylist", mem}, {"redis", red}}
	for _, l := range lists[1:] {
		b.Run("revoked/"+l.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if revoked, err := l.rev.Revoked(ctx, claims); revoked || err != nil {
					b.Fatal(revoked, err)
				}
			}
		})
	}
	for _, l := range lists {
		b.Run("verify_cached/"+l.name, func(b *testing.B) {
			v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource,
				Fetch: validate.FetchOptions{HTTPClient: is.Client()}, Revocations: l.rev})
			if err != nil {
				b.Fatal(err)
			}
			tok := is.Token(map[string]any{"sub": "alice", "sid": "sid"})
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, l := range lists[1:] {
		b.Run("parallel/"+l.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if revoked, err := l.rev.Revoked(ctx, claims); revoked || err != nil {
						b.Error(revoked, err)
						return
					}
				}
			})
		})
	}
}
