package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// setting is one line of serve's configuration table: a flag (unless
// secret: secrets never go on a command line, where ps shows them), its
// environment variable, and its key in the -config file (the flag's name).
// Precedence: flag, then variable, then file, then the default.
type setting struct {
	name   string
	env    string
	usage  string
	value  flag.Value
	secret bool   // masked by -print-config; from the variable or the file only
	source string // where the effective value came from
	def    string // the default, as text
}

// config is serve's table, in the order -print-config shows it.
type config struct {
	settings []*setting
	byName   map[string]*setting
	file     string // the -config file read, if any
}

func (c *config) add(s *setting) {
	if c.byName == nil {
		c.byName = map[string]*setting{}
	}
	s.def, s.source = s.value.String(), "default"
	c.settings = append(c.settings, s)
	c.byName[s.name] = s
}

// String, Bool, Int, Int64 and Duration declare settings.
func (c *config) String(name, env, def, usage string) *string {
	p := new(string)
	*p = def
	c.add(&setting{name: name, env: env, usage: usage, value: (*stringValue)(p)})
	return p
}

// Secret declares a setting read only from its variable or the file.
func (c *config) Secret(name, env, usage string) *string {
	p := new(string)
	c.add(&setting{name: name, env: env, usage: usage, value: (*stringValue)(p), secret: true})
	return p
}

func (c *config) Bool(name, env string, def bool, usage string) *bool {
	p := new(bool)
	*p = def
	c.add(&setting{name: name, env: env, usage: usage, value: (*boolValue)(p)})
	return p
}

func (c *config) Int(name, env string, def int, usage string) *int {
	p := new(int64)
	*p = int64(def)
	out := new(int)
	*out = def
	c.add(&setting{name: name, env: env, usage: usage, value: &intValue{p, out}})
	return out
}

func (c *config) Int64(name, env string, def int64, usage string) *int64 {
	p := new(int64)
	*p = def
	c.add(&setting{name: name, env: env, usage: usage, value: &intValue{p, nil}})
	return p
}

func (c *config) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = def
	c.add(&setting{name: name, env: env, usage: usage, value: (*durationValue)(p)})
	return p
}

// register puts the settings that are not secret on fs.
func (c *config) register(fs *flag.FlagSet) {
	for _, s := range c.settings {
		if s.secret {
			continue
		}
		usage := s.usage
		if s.env != "" {
			usage += " (env " + s.env + ")"
		}
		switch v := s.value.(type) {
		case *stringValue: // the flag package's own, so -h quotes the default as for other commands
			fs.StringVar((*string)(v), s.name, string(*v), usage)
		case *durationValue:
			fs.DurationVar((*time.Duration)(v), s.name, time.Duration(*v), usage)
		default:
			fs.Var(s.value, s.name, usage)
		}
	}
}

// resolve fills what the command line left out: from the environment,
// then from the config file. An unreadable value is a usage error naming
// where it came from; nothing falls back to a default silently.
func (c *config) resolve(fs *flag.FlagSet, configFile string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var file map[string]any
	if configFile != "" {
		var err error
		if file, err = readConfigFile(configFile, c.byName); err != nil {
			return err
		}
		c.file = configFile
	}
	for _, s := range c.settings {
		switch {
		case given[s.name]:
			s.source = "flag"
		case s.env != "" && os.Getenv(s.env) != "":
			if err := s.value.Set(os.Getenv(s.env)); err != nil {
				return usagef("%s=%q: %s", s.env, maskIf(s.secret, os.Getenv(s.env)), err)
			}
			s.source = "env " + s.env
		case file[s.name] != nil:
			if err := s.value.Set(tomlText(file[s.name])); err != nil {
				return usagef("%s: %s = %q: %s", configFile, s.name, maskIf(s.secret, tomlText(file[s.name])), err)
			}
			s.source = "file"
		}
	}
	return nil
}

// readConfigFile reads a TOML file whose keys are serve's flag names;
// an unknown key is refused (a typo would otherwise be a silent default).
func readConfigFile(name string, known map[string]*setting) (map[string]any, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("-config: %s", cause(err))
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, usagef("-config %s: %s", name, err)
	}
	var unknown []string
	for k, v := range m {
		if _, ok := known[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		switch v.(type) {
		case string, bool, int64, float64:
		default:
			return nil, usagef("-config %s: %s must be a string, number or boolean", name, k)
		}
	}
	for k := range m {
		if s := known[k]; s != nil && s.secret {
			if fi, err := os.Stat(name); err == nil && fi.Mode().Perm()&0o077 != 0 {
				return nil, usagef("-config %s holds %s but others can read it (mode %04o): chmod 600 %s", name, k, fi.Mode().Perm(), name)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, usagef("-config %s: unknown setting %q (the keys are serve's flag names: bizsec serve -h)", name, unknown[0])
	}
	return m, nil
}

// tomlText is a TOML value as the flag would take it.
func tomlText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func maskIf(secret bool, v string) string {
	if secret && v != "" {
		return "********"
	}
	return v
}

// printConfig writes the effective configuration as a TOML file that
// -config reads back, each line with its source; secrets and the password
// of a database URL are masked.
func (c *config) print(w io.Writer) {
	fmt.Fprintln(w, "# bizsec serve: effective configuration (flag > environment > -config file > default)")
	if c.file != "" {
		fmt.Fprintf(w, "# config file: %s\n", c.file)
	}
	for _, s := range c.settings {
		v := s.value.String()
		switch {
		case s.secret:
			v = maskIf(true, v)
		case s.name == "database":
			v = redactURL(v)
		}
		var text string
		switch s.value.(type) {
		case *boolValue, *intValue:
			text = v
		default:
			text = strconv.Quote(v)
		}
		fmt.Fprintf(w, "%s = %s  # %s\n", s.name, text, s.source)
	}
}

// redactURL masks the password of a URL such as postgres://u:p@h/db.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

// boolValue reads a boolean strictly: true, 1 or yes; false, 0 or no (any
// case). Anything else is an error, never a default.
type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := parseBool(s)
	if err != nil {
		return err
	}
	*v = boolValue(b)
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, errors.New("want true, 1 or yes; false, 0 or no")
}

type intValue struct {
	p   *int64
	out *int // the int a caller holds, when declared with Int
}

func (v *intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("want a whole number")
	}
	*v.p = n
	if v.out != nil {
		*v.out = int(n)
	}
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a duration such as 3s or 500ms")
	}
	*v = durationValue(d)
	return nil
}
