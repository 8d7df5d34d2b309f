package main

import (
	"flag"
	"fmt"
	"strconv"
)

// flagSet is a flag.FlagSet whose flags may default from REBOUND_* environment variables.
type flagSet struct {
	*flag.FlagSet
	env *environment
}

func newFlagSet(env *environment, name, args string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rebound %s %s\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs, env: env}
}

// envString defines a string flag whose default comes from the environment variable.
func (f *flagSet) envString(p *string, name, envVar, def, usage string) {
	if v := f.env.getenv(envVar); v != "" {
		def = v
	}
	f.StringVar(p, name, def, usage+" ("+envVar+")")
}

// envInt defines an int flag whose default comes from the environment variable; a value that
// is not a number is reported when the flags are parsed.
func (f *flagSet) envInt(p *int, name, envVar string, def int, usage string) {
	f.Var(&envIntValue{p: p, envVar: envVar, raw: f.env.getenv(envVar), def: def}, name, usage+" ("+envVar+")")
	*p = def
}

type envIntValue struct {
	p      *int
	envVar string
	raw    string
	def    int
}

func (v *envIntValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *envIntValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v.p = n
	return nil
}

// parse parses args and then applies environment values for flags not given on the command
// line, reporting a bad environment value by its variable name.
func (f *flagSet) parse(args []string) error {
	// Flags may come before, between or after the positional arguments.
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			return err
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if err := f.Parse(append([]string{"--"}, positional...)); err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var err error
	f.VisitAll(func(fl *flag.Flag) {
		ev, ok := fl.Value.(*envIntValue)
		if !ok || set[fl.Name] || ev.raw == "" || err != nil {
			return
		}
		if e := ev.Set(ev.raw); e != nil {
			err = fmt.Errorf("%s: %v", ev.envVar, e)
		}
	})
	return err
}
