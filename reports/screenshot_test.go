package reports

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds Debian's headless browser. make deps installs it; CI must
// have it, so only a developer's machine without it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is missing in CI: make deps installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (make deps installs it): cannot render the report to a PNG")
	return ""
}

// Screenshot renders an HTML file to a PNG with headless Chromium, as
// `make report-screenshot` does.
func screenshot(ctx context.Context, browser, html, png string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--window-size=1400,2000", "--screenshot="+png, "file://"+html)
	return cmd.CombinedOutput()
}

// TestReportRendersInChromium renders the known journal's index.html in a
// real browser and checks that the picture is not blank: a page whose SVG
// failed to draw would be a plain white image.
func TestReportRendersInChromium(t *testing.T) {
	browser := chromium(t)
	page, err := RenderHTML(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "index.html")
	if err := os.WriteFile(html, page, 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "index.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := screenshot(ctx, browser, html, shot); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	colours, inked := inkOf(img)
	t.Logf("screenshot %dx%d: %d colours, %.1f%% of pixels not white", img.Bounds().Dx(), img.Bounds().Dy(), colours, 100*inked)
	if colours < 8 || inked < 0.02 {
		t.Errorf("the rendered report looks blank: %d colours, %.2f%% of pixels not white", colours, 100*inked)
	}
}

// inkOf counts the distinct colours of img and the share of its pixels that
// are not (nearly) white.
func inkOf(img image.Image) (colours int, inked float64) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	var ink, total int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
			total++
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				ink++
			}
		}
	}
	return len(seen), float64(ink) / float64(total)
}
