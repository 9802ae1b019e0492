// Package sdktest holds dispatch/otelobserver's tests, which read what the
// observer records through the OpenTelemetry SDK (its in-memory span
// recorder and manual metric reader). It is a module of its own, with no
// code a host imports, so that the SDK, which only these tests need, never
// appears in otelobserver's go.mod: otelobserver needs only the
// OpenTelemetry API, and a host brings the SDK (or another one) it chose.
package sdktest
