package sdktest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver"
)

// A delivery whose sender hung up before its answer is counted with
// hookkit.sender_gone=true, apart from the 200s that were received.
func TestSenderGoneIsCountedApart(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	obs, err := otelobserver.New(otelobserver.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	for _, gone := range []bool{false, true, true} {
		d := &dispatch.Delivery{Received: time.Now(), Method: http.MethodPost, EventSource: "stripe"}
		ctx := obs.StartDelivery(context.Background(), d)
		d.Status, d.Outcome, d.SenderGone = http.StatusOK, dispatch.OutcomeProcessed, gone
		obs.EndDelivery(ctx, d)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	byGone := map[bool]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || m.Name != "hookkit.deliveries" {
				continue
			}
			for _, p := range sum.DataPoints {
				v, _ := p.Attributes.Value(otelobserver.SenderGoneKey)
				byGone[v.AsBool()] += p.Value
			}
		}
	}
	if byGone[false] != 1 || byGone[true] != 2 {
		t.Errorf("deliveries by sender gone: %v; want 1 received, 2 gone", byGone)
	}
}
