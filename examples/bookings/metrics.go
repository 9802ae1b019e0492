package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hookkit/hookkit/dispatch/otelobserver"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/events/etailevent"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// telemetry is the backend's OpenTelemetry observer, exported in the
// Prometheus text format at GET /metrics. Traces go to the global
// TracerProvider, which a deployment points at its collector.
type telemetry struct {
	observer *otelobserver.Observer
	metrics  http.Handler
}

func newTelemetry() (*telemetry, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	var catalogs []string
	for _, c := range [][]string{stripeevent.Catalog(), twilioevent.Catalog(), conversoevent.Catalog(), etailevent.Catalog()} {
		catalogs = append(catalogs, c...)
	}
	obs, err := otelobserver.New(otelobserver.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		Types:         catalogs, // the senders' documented types keep their names; made-up ones are "other"
	})
	if err != nil {
		return nil, err
	}
	return &telemetry{observer: obs, metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{})}, nil
}
