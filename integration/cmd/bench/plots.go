package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// primaryMetric is the metric each failover scenario's picture shows.
var primaryMetric = map[string]string{
	"hard":        metricCutGARP,
	"crash":       metricUntilOne,
	"graceful":    metricHandover,
	"switchover":  metricSwitchover,
	"maintenance": metricDrain,
	"rejoin":      metricRejoin,
}

// plotTitle is the title of the picture of a report section.
func plotTitle(key string) string {
	switch key {
	case "false":
		return "False failovers per hour, lossy ports and busy CPUs"
	case "idle-cpu":
		return "Idle CPU per daemon, % of one core"
	case "idle-wakeups":
		return "Idle context switches per second per daemon"
	case "idle-tx":
		return "Idle bytes sent per second per node"
	}
	if m := primaryMetric[key]; m != "" {
		return strings.SplitN(scenarioTitle[key], ":", 2)[0] + ": " + m + " per round"
	}
	return key
}

// grouped is the data of one picture: a group of values per category
// (setup) on the x axis and series (sizes) in colours within each group.
type grouped struct {
	title, unit string
	cats        []string
	series      []string
	vals        [][][]float64 // [series][category]; empty: not measured
}

func (g grouped) empty() bool {
	for _, s := range g.vals {
		for _, v := range s {
			if len(v) > 0 {
				return false
			}
		}
	}
	return true
}

// all is every value of g.
func (g grouped) all() []float64 {
	var out []float64
	for _, s := range g.vals {
		for _, v := range s {
			out = append(out, v...)
		}
	}
	return out
}

// groupBySetup collects one value list per setup and size.
func (b *bench) groupBySetup(title, unit string, of func(size, setup) []float64) grouped {
	g := grouped{title: title, unit: unit}
	for _, s := range b.setups {
		g.cats = append(g.cats, s.String())
	}
	for _, z := range b.sizes {
		g.series = append(g.series, z.String())
		row := make([][]float64, len(b.setups))
		for i, s := range b.setups {
			row[i] = of(z, s)
		}
		g.vals = append(g.vals, row)
	}
	return g
}

// writePlots writes the report's distributions as SVG files beside the
// report at out (report.md gives report-hard.svg, …) and returns each
// section's file name, relative to the report.
func (b *bench) writePlots(out string) (map[string]string, error) {
	plot.DefaultFont.Variant = "Sans"
	dir := filepath.Dir(out)
	base := strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
	files := map[string]string{}
	for _, f := range b.figures() {
		if f.g.empty() {
			continue
		}
		p, err := f.draw(f.g)
		if err != nil {
			return files, fmt.Errorf("plotting %s: %w", f.key, err)
		}
		name := base + "-" + f.key + ".svg"
		if err := p.Save(plotWidth(f.g), 9*vg.Centimeter, filepath.Join(dir, name)); err != nil {
			return files, fmt.Errorf("writing %s: %w", name, err)
		}
		files[f.key] = name
	}
	return files, nil
}

type figure struct {
	key  string
	g    grouped
	draw func(grouped) (*plot.Plot, error)
}

// figures are the pictures of every section measured.
func (b *bench) figures() []figure {
	var out []figure
	for _, sc := range scenarioOrder {
		m := primaryMetric[sc]
		if m == "" || !b.scenarios[sc] {
			continue
		}
		g := b.groupBySetup(plotTitle(sc), "ms", func(z size, s setup) []float64 {
			return millis(b.failover[fkey{sc, z, s, m}])
		})
		out = append(out, figure{sc, g, boxChart})
	}
	if b.scenarios["false"] {
		g := grouped{title: plotTitle("false"), unit: "holder changes per hour"}
		for _, s := range b.setups {
			g.cats = append(g.cats, s.String())
		}
		for _, z := range b.sizes {
			for _, l := range b.losses {
				g.series = append(g.series, fmt.Sprintf("%s, %d %% loss", z, l))
				row := make([][]float64, len(b.setups))
				for i, s := range b.setups {
					if r, ok := b.falses[falseKey{z, s, l}]; ok && r.err == "" {
						row[i] = []float64{float64(r.changes) * 3600 / r.d.Seconds()}
					}
				}
				g.vals = append(g.vals, row)
			}
		}
		out = append(out, figure{"false", g, barChart})
	}
	if b.scenarios["resources"] && b.idle > 0 {
		for _, f := range []struct {
			key, unit string
			of        func(usageResult) []float64
		}{
			{"idle-cpu", "% of one core", func(u usageResult) []float64 { return u.cpu }},
			{"idle-wakeups", "context switches/s", func(u usageResult) []float64 { return u.switches }},
			{"idle-tx", "bytes/s", func(u usageResult) []float64 { return u.txRate }},
		} {
			g := b.groupBySetup(plotTitle(f.key), f.unit, func(z size, s setup) []float64 {
				if u, ok := b.usages[usageKey{z, s}]; ok {
					return f.of(u)
				}
				return nil
			})
			out = append(out, figure{f.key, g, boxChart})
		}
	}
	return out
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// boxWidth is the drawn width of a box or a bar, in points.
const boxWidth = 14

func plotWidth(g grouped) vg.Length {
	perCat := max(1.6*boxWidth*float64(len(g.series)), 70)
	w := vg.Length(float64(len(g.cats))*perCat+100) * vg.Inch / 72
	return max(w, 16*vg.Centimeter)
}

// newGroupedPlot is a plot with the categories on a nominal x axis, a
// legend of the series in the space above the highest value, and a
// logarithmic y axis when the values span more than a decade and a half
// (failover times of milliseconds beside seconds).
func newGroupedPlot(g grouped) *plot.Plot {
	p := plot.New()
	p.Title.Text = g.title
	p.Y.Label.Text = g.unit
	p.NominalX(g.cats...)
	p.X.Min, p.X.Max = -0.5, float64(len(g.cats))-0.5
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = 10
	p.Legend.ThumbnailWidth = 10
	lo, hi := minMax(g.all())
	if useLog(g.all()) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/2, hi*math.Pow(10, 0.4*float64(len(g.series)))
	} else {
		p.Y.Min, p.Y.Max = 0, max(hi, 1e-9)*(1+0.12*float64(len(g.series)))
	}
	p.Add(plotter.NewGrid())
	for j, name := range g.series {
		p.Legend.Add(name, swatch{plotutil.Color(j)})
	}
	return p
}

// at is the x position of series j in category i: the series side by
// side, centred on the category's tick.
func (g grouped) at(j, i int) float64 {
	m := float64(len(g.series))
	return float64(i) + (float64(j)-(m-1)/2)*0.8/m
}

// chart draws g with the plotters item makes for each series and
// category that has values.
func (g grouped) chart(item func(j int, x float64, vs []float64) ([]plot.Plotter, error)) (*plot.Plot, error) {
	p := newGroupedPlot(g)
	for j := range g.series {
		for i, vs := range g.vals[j] {
			if len(vs) == 0 {
				continue
			}
			its, err := item(j, g.at(j, i), vs)
			if err != nil {
				return nil, err
			}
			p.Add(its...)
		}
	}
	return p, nil
}

var boxW = vg.Length(boxWidth) * vg.Inch / 72

// boxChart draws g as box plots (median, quartiles, whiskers to the
// furthest value within 1.5 interquartile ranges) with every value as a
// dot in its series' colour over it: five rounds, or a cluster's ten
// daemons, are few enough to show one by one.
func boxChart(g grouped) (*plot.Plot, error) {
	return g.chart(func(j int, x float64, vs []float64) ([]plot.Plotter, error) {
		bp, err := plotter.NewBoxPlot(boxW, x, plotter.Values(vs))
		if err != nil {
			return nil, err
		}
		bp.FillColor = color.White
		bp.GlyphStyle.Radius = 0 // the dots show the values beyond the whiskers
		pts := make(plotter.XYs, len(vs))
		for k, v := range vs {
			pts[k] = plotter.XY{X: x, Y: v}
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(j), Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		return []plot.Plotter{bp, sc}, nil
	})
}

// barChart draws g's single values as bars.
func barChart(g grouped) (*plot.Plot, error) {
	return g.chart(func(j int, x float64, vs []float64) ([]plot.Plotter, error) {
		bc, err := plotter.NewBarChart(plotter.Values{vs[0]}, boxW)
		if err != nil {
			return nil, err
		}
		bc.XMin = x
		bc.Color = plotutil.Color(j)
		bc.LineStyle.Width = 0
		return []plot.Plotter{bc}, nil
	})
}

// useLog tells whether vs need a logarithmic axis: all above zero and
// the largest more than 30 times the smallest.
func useLog(vs []float64) bool {
	lo, hi := minMax(vs)
	return len(vs) > 0 && lo > 0 && hi/lo > 30
}

func minMax(vs []float64) (lo, hi float64) {
	if len(vs) == 0 {
		return 0, 0
	}
	lo, hi = vs[0], vs[0]
	for _, v := range vs[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// swatch is a legend entry: a filled square of the series' colour.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	})
}
