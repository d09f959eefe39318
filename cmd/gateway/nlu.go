package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/nlu"
)

// cmdNLU runs `gateway nlu classify` (stdin lines → JSON lines) and `gateway nlu eval FILE [--json]`.
func cmdNLU(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing classify or eval", errUsage)
	}
	switch args[0] {
	case "classify":
		if len(args) > 1 {
			return fmt.Errorf("%w: classify takes no arguments (messages come on stdin)", errUsage)
		}
		c, err := loadClassifier(env)
		if err != nil {
			return err
		}
		return nluClassify(ctx, env, c)
	case "eval":
		var file string
		asJSON := false
		for _, a := range args[1:] {
			switch {
			case a == "--json" || a == "-json":
				asJSON = true
			case strings.HasPrefix(a, "-") && a != "-":
				return fmt.Errorf("%w: unknown flag %s", errUsage, a)
			case file != "":
				return fmt.Errorf("%w: eval takes one FILE", errUsage)
			default:
				file = a
			}
		}
		if file == "" {
			return fmt.Errorf("%w: eval needs a FILE (JSONL with text and intent; - for stdin)", errUsage)
		}
		items, err := readLabelled(env, file)
		if err != nil {
			return err
		}
		c, err := loadClassifier(env)
		if err != nil {
			return err
		}
		rep := evaluate(c, items)
		if asJSON {
			enc := json.NewEncoder(env.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		rep.print(env.stdout)
		return nil
	}
	return fmt.Errorf("%w: unknown nlu command %q", errUsage, args[0])
}

// loadClassifier trains the classifier from the data files (DATA_DIR over the embedded ones)
// with the communes of knowledge/communes.csv.
func loadClassifier(env *environ) (*nlu.Classifier, error) {
	fsys, err := data.Open(env.getenv("DATA_DIR"))
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	communes, err := lookup.ReadCommunes(fsys)
	if err != nil {
		return nil, err
	}
	schemes, err := knowledge.ReadOtherSchemes(fsys)
	if err != nil {
		return nil, err
	}
	c, err := nlu.Load(fsys, nlu.Options{Communes: communes, Schemes: nluSchemes(schemes)})
	if err != nil {
		return nil, err
	}
	// What a code looks like: the configured pattern, else the shapes of the demo codes (the
	// records the gateway runs with when no REDIS_URL is set).
	cfg, err := config.Load(env.getenv)
	if err == nil && cfg.ApplicationCodePattern != nil {
		c.SetCodePattern(cfg.ApplicationCodePattern)
	} else if shapes, err := lookup.DemoCodeShapes(fsys); err == nil {
		c.SetCodeShapes(shapes)
	}
	return c, nil
}

// nluSchemes gives the understanding the words of the neighbouring schemes.
func nluSchemes(schemes []knowledge.OtherScheme) []nlu.Scheme {
	out := make([]nlu.Scheme, 0, len(schemes))
	for _, s := range schemes {
		out = append(out, nlu.Scheme{ID: s.ID, Decisive: s.Decisive, Words: s.Words})
	}
	return out
}

// nluClassify writes one JSON object per input line, including empty lines, so output lines
// match input lines.
func nluClassify(ctx context.Context, env *environ, c *nlu.Classifier) error {
	in := bufio.NewReader(env.stdin)
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := in.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			if err := enc.Encode(c.Classify(line)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type labelledItem struct {
	Text   string `json:"text"`
	Intent string `json:"intent"`
}

// readLabelled reads a JSONL evaluation file; errors name the line.
func readLabelled(env *environ, file string) ([]labelledItem, error) {
	var r io.Reader
	if file == "-" {
		r = env.stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	known := map[string]bool{}
	for _, in := range nlu.Intents {
		known[in] = true
	}
	var items []labelledItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var it labelledItem
		if err := json.Unmarshal([]byte(b), &it); err != nil {
			return nil, fmt.Errorf("%s:%d: bad JSON: %v", file, line, err)
		}
		if !known[it.Intent] {
			return nil, fmt.Errorf("%s:%d: unknown intent %q", file, line, it.Intent)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, line+1, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no items", file)
	}
	return items, nil
}

// evalReport is what `nlu eval` prints.
type evalReport struct {
	Items    int     `json:"items"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	// OOSFalseAcceptance is the share of out_of_scope items predicted as an in-scope intent.
	OOSFalseAcceptance float64       `json:"oos_false_acceptance"`
	Unsure             int           `json:"unsure"`
	PerIntent          []intentScore `json:"per_intent"`
	Confused           []confusion   `json:"confused"`
	// Reliability is the calibration of the answers given (not unsure): by confidence band, how
	// many, their mean confidence and how many were right. UnsureRight is how many of the unsure
	// items were in fact out of scope (where "not understood" is no loss).
	Reliability []reliabilityBin `json:"reliability"`
	ECE         float64          `json:"expected_calibration_error"`
	UnsureOOS   int              `json:"unsure_out_of_scope"`
}

type reliabilityBin struct {
	From           float64 `json:"from"`
	To             float64 `json:"to"`
	Count          int     `json:"count"`
	MeanConfidence float64 `json:"mean_confidence"`
	Accuracy       float64 `json:"accuracy"`
}

// bands are the confidence bands of the reliability table.
var bands = []float64{0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001}

type intentScore struct {
	Intent    string  `json:"intent"`
	Support   int     `json:"support"`
	Predicted int     `json:"predicted"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

type confusion struct {
	Expected  string `json:"expected"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
}

func evaluate(c *nlu.Classifier, items []labelledItem) evalReport {
	rep := evalReport{Items: len(items)}
	support := map[string]int{}
	predicted := map[string]int{}
	correct := map[string]int{}
	pairs := map[[2]string]int{}
	oos, oosAccepted := 0, 0
	binN := make([]int, len(bands)-1)
	binConf := make([]float64, len(bands)-1)
	binRight := make([]int, len(bands)-1)
	answered := 0
	for _, it := range items {
		r := c.Classify(it.Text)
		support[it.Intent]++
		predicted[r.Intent]++
		if r.Unsure {
			rep.Unsure++
			if it.Intent == nlu.OutOfScope {
				rep.UnsureOOS++
			}
		} else {
			answered++
			for b := range binN {
				if r.Confidence >= bands[b] && r.Confidence < bands[b+1] {
					binN[b]++
					binConf[b] += r.Confidence
					if r.Intent == it.Intent {
						binRight[b]++
					}
				}
			}
		}
		if r.Intent == it.Intent {
			correct[it.Intent]++
			rep.Correct++
		} else {
			pairs[[2]string{it.Intent, r.Intent}]++
		}
		if it.Intent == nlu.OutOfScope {
			oos++
			if r.Intent != nlu.OutOfScope {
				oosAccepted++
			}
		}
	}
	for b := range binN {
		bin := reliabilityBin{From: bands[b], To: min(1, bands[b+1]), Count: binN[b]}
		if binN[b] > 0 {
			bin.MeanConfidence = float64(int(binConf[b]/float64(binN[b])*1000+0.5)) / 1000
			bin.Accuracy = ratio(binRight[b], binN[b])
			gap := binConf[b]/float64(binN[b]) - float64(binRight[b])/float64(binN[b])
			if gap < 0 {
				gap = -gap
			}
			rep.ECE += gap * float64(binN[b]) / float64(max(1, answered))
		}
		rep.Reliability = append(rep.Reliability, bin)
	}
	rep.ECE = float64(int(rep.ECE*10000+0.5)) / 10000
	rep.Accuracy = ratio(rep.Correct, rep.Items)
	rep.OOSFalseAcceptance = ratio(oosAccepted, oos)
	for _, in := range nlu.Intents {
		if support[in] == 0 && predicted[in] == 0 {
			continue
		}
		rep.PerIntent = append(rep.PerIntent, intentScore{
			Intent: in, Support: support[in], Predicted: predicted[in],
			Precision: ratio(correct[in], predicted[in]), Recall: ratio(correct[in], support[in]),
		})
	}
	for p, n := range pairs {
		rep.Confused = append(rep.Confused, confusion{Expected: p[0], Predicted: p[1], Count: n})
	}
	slices.SortFunc(rep.Confused, func(a, b confusion) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Expected+" "+a.Predicted, b.Expected+" "+b.Predicted)
	})
	if len(rep.Confused) > 10 {
		rep.Confused = rep.Confused[:10]
	}
	return rep
}

// ratio is n/d rounded to 4 decimals, 0 when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(int(float64(n)/float64(d)*10000+0.5)) / 10000
}

func (r evalReport) print(w io.Writer) {
	fmt.Fprintf(w, "items: %d  correct: %d  accuracy: %.1f%%  unsure: %d\n", r.Items, r.Correct, 100*r.Accuracy, r.Unsure)
	fmt.Fprintf(w, "out-of-scope false acceptance: %.1f%%\n\n", 100*r.OOSFalseAcceptance)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "intent\tsupport\tpredicted\tprecision\trecall\t")
	for _, s := range r.PerIntent {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%.1f%%\t\n", s.Intent, s.Support, s.Predicted, 100*s.Precision, 100*s.Recall)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nreliability of the answers given (confidence band → share right):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "confidence\titems\tmean confidence\taccuracy\t")
	for _, b := range r.Reliability {
		if b.Count == 0 {
			continue
		}
		fmt.Fprintf(tw, "%.2f-%.2f\t%d\t%.3f\t%.1f%%\t\n", b.From, b.To, b.Count, b.MeanConfidence, 100*b.Accuracy)
	}
	tw.Flush()
	fmt.Fprintf(w, "expected calibration error: %.3f; unsure (answered \"not understood\" with the menu and a person): %d, of which out of scope: %d\n",
		r.ECE, r.Unsure, r.UnsureOOS)
	fmt.Fprintln(w, "\nmost confused (expected → predicted):")
	if len(r.Confused) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range r.Confused {
		fmt.Fprintf(w, "  %3d  %s → %s\n", c.Count, c.Expected, c.Predicted)
	}
}
