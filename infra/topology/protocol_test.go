package topology

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestProtocolNumber(t *testing.T) {
	tests := []struct {
		in      RuleProtocol
		want    uint8
		wantErr bool
	}{
		{ProtoUnspec, unix.RTPROT_UNSPEC, false},
		{ProtoBoot, unix.RTPROT_BOOT, false},
		{ProtoStatic, unix.RTPROT_STATIC, false},
		{ProtoKernel, unix.RTPROT_KERNEL, false},
		{"bgp", 0, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.in), func(t *testing.T) {
			got, err := tt.in.Number()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
