// Command pss-check evaluates the pod specs in Kubernetes manifests (for example
// `helm template` output) against the Pod Security Standard "restricted:latest".
// It uses k8s.io/pod-security-admission, the library behind the API server's
// PodSecurity admission, so the test suite can prove that the pods our chart
// renders would be admitted into a namespace enforcing restricted.
//
// Build: cd test/charts/pss-check && go build -trimpath -o "$OUT/pss-check" .
// Use:   helm template ... | pss-check     or     pss-check file.yaml ...  ("-" = stdin)
//
// Prints "PASS Kind/name" or "FAIL Kind/name: reason: detail; ..." per pod spec and
// a summary. Exit 0: all passed, 1: some failed, 2: bad input or no pod spec found.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// podKinds are the kinds that carry a pod spec.
const podKinds = "Pod Deployment StatefulSet DaemonSet ReplicaSet Job CronJob"

// helmSource matches the "# Source: chart/templates/x.yaml" line helm template prints.
var helmSource = regexp.MustCompile(`(?m)^# Source: (.*?)\s*$`)

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil) // nil: no emulated older version
	if err != nil {
		fatal(err)
	}
	files := os.Args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	restrictedLatest := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	checked, failed := 0, 0
	for _, file := range files {
		// The pod's metadata is evaluated too: some checks look at its annotations.
		err := readFile(file, func(name string, pod *corev1.PodTemplateSpec) {
			var problems []string
			for _, r := range evaluator.EvaluatePod(restrictedLatest, &pod.ObjectMeta, &pod.Spec) {
				if !r.Allowed {
					problems = append(problems, strings.TrimSuffix(r.ForbiddenReason+": "+r.ForbiddenDetail, ": "))
				}
			}
			checked++
			if len(problems) == 0 {
				fmt.Printf("PASS %s\n", name)
			} else {
				failed++
				fmt.Printf("FAIL %s: %s\n", name, strings.Join(problems, "; "))
			}
		})
		if err != nil {
			fatal(err)
		}
	}
	fmt.Printf("checked %d pod specs, %d failed\n", checked, failed)
	if checked == 0 {
		fatal(fmt.Errorf("no pod spec (%s) found in input", podKinds))
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "pss-check:", err)
	os.Exit(2)
}

// readFile splits a multi-document YAML stream and calls check for each pod spec
// in it with the name ("Kind/name") of the object holding it.
func readFile(file string, check func(name string, pod *corev1.PodTemplateSpec)) error {
	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(in))
	for n := 1; ; n++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			var name string
			var pod *corev1.PodTemplateSpec
			if name, pod, err = decodeDoc(doc); pod != nil {
				check(name, pod)
			}
		}
		if err != nil {
			where := fmt.Sprintf("%s: document %d", file, n)
			if m := helmSource.FindSubmatch(doc); m != nil {
				where += " (" + string(m[1]) + ")" // says which template is at fault
			}
			return fmt.Errorf("%s: %w", where, err)
		}
	}
}

// decodeDoc returns the pod template in one document and the name of the object
// holding it, or a nil pod for empty documents and kinds without one (Service, ...).
func decodeDoc(doc []byte) (name string, pod *corev1.PodTemplateSpec, err error) {
	// The strict conversion rejects duplicate keys instead of keeping the last one.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil || string(js) == "null" { // "null": empty or comment-only document
		return "", nil, err
	}
	var obj metav1.PartialObjectMetadata // apiVersion, kind and metadata only
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &obj); err != nil {
		return "", nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if obj.Kind == "" || obj.APIVersion == "" {
		return "", nil, errors.New("not a Kubernetes object: apiVersion or kind missing")
	}
	if !slices.Contains(strings.Fields(podKinds), obj.Kind) {
		return "", nil, nil
	}
	switch obj.APIVersion + " " + obj.Kind {
	case "v1 Pod":
		pod, err = decode(js, func(o *corev1.Pod) *corev1.PodTemplateSpec {
			return &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}
		})
	case "apps/v1 Deployment":
		pod, err = decode(js, func(o *appsv1.Deployment) *corev1.PodTemplateSpec { return &o.Spec.Template })
	case "apps/v1 StatefulSet":
		pod, err = decode(js, func(o *appsv1.StatefulSet) *corev1.PodTemplateSpec { return &o.Spec.Template })
	case "apps/v1 DaemonSet":
		pod, err = decode(js, func(o *appsv1.DaemonSet) *corev1.PodTemplateSpec { return &o.Spec.Template })
	case "apps/v1 ReplicaSet":
		pod, err = decode(js, func(o *appsv1.ReplicaSet) *corev1.PodTemplateSpec { return &o.Spec.Template })
	case "batch/v1 Job":
		pod, err = decode(js, func(o *batchv1.Job) *corev1.PodTemplateSpec { return &o.Spec.Template })
	case "batch/v1 CronJob":
		pod, err = decode(js, func(o *batchv1.CronJob) *corev1.PodTemplateSpec { return &o.Spec.JobTemplate.Spec.Template })
	default:
		// An error rather than a skip, so that no pod spec silently escapes the check.
		err = fmt.Errorf("unsupported apiVersion %q for kind %s", obj.APIVersion, obj.Kind)
	}
	return obj.Kind + "/" + obj.Name, pod, err
}

// decode decodes js into a T the way the API server does with strict field
// validation: case-sensitively (encoding/json would accept a mis-cased
// "runasnonroot" that the API server drops), failing on unknown or duplicate
// fields. It returns the pod template that pick finds in the T.
func decode[T any](js []byte, pick func(*T) *corev1.PodTemplateSpec) (*corev1.PodTemplateSpec, error) {
	obj := new(T)
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj)
	if err = errors.Join(append([]error{err}, strictErrs...)...); err != nil {
		return nil, err
	}
	return pick(obj), nil
}
