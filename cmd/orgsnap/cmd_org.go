package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/orgsnap/orgsnap/backup"
	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/sfapi"
)

// Environment variables that carry Salesforce credentials to `org add`, so
// they never appear in shell history or `ps` output as flag values.
const (
	envSFPassword     = "ORGSNAP_SF_PASSWORD"
	envSFClientSecret = "ORGSNAP_SF_CLIENT_SECRET"
	envSFRefreshToken = "ORGSNAP_SF_REFRESH_TOKEN"
	envSFAccessToken  = "ORGSNAP_SF_ACCESS_TOKEN"
)

// orgAddFlags lists, per login method, the `org add` flags that apply;
// any other flag given is a mistake worth reporting rather than ignoring.
var orgAddFlags = map[backup.AuthKind][]string{
	backup.AuthJWT:               {"instance-url", "login-url", "client-id", "username", "jwt-key", "api-version"},
	backup.AuthSFCLI:             {"target-org", "api-version"},
	backup.AuthPassword:          {"instance-url", "login-url", "client-id", "username", "client-secret-file", "api-version"},
	backup.AuthRefresh:           {"instance-url", "login-url", "client-id", "client-secret-file", "api-version"},
	backup.AuthClientCredentials: {"instance-url", "login-url", "client-id", "client-secret-file", "api-version"},
	backup.AuthToken:             {"instance-url", "api-version"},
}

func newOrgCommand() *cli.Command {
	// Each subcommand needs its own flag value: urfave/cli records state in it.
	jsonFlag := func() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts instead of text"} }
	return &cli.Command{
		Name:  "org",
		Usage: "manage org profiles: how orgsnap connects to each Salesforce org (credentials stored encrypted)",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add an org profile",
				ArgsUsage: "NAME",
				Description: "The login method follows from the flags (or --auth):\n" +
					"  --jwt-key FILE --client-id ID --username U [--instance-url URL]   OAuth JWT bearer flow (recommended)\n" +
					"  --target-org ALIAS                                                reuse a Salesforce CLI login (stores only the alias)\n" +
					"  --username U --client-id ID [--client-secret-file FILE]           OAuth username-password flow; password from\n" +
					"                                                                    " + envSFPassword + " or a prompt\n" +
					"  --auth refresh --client-id ID                                     refresh token from " + envSFRefreshToken + " or a prompt\n" +
					"  --auth client-credentials --instance-url URL --client-id ID       client secret from --client-secret-file,\n" +
					"                                                                    " + envSFClientSecret + " or a prompt\n" +
					"  --auth token --instance-url URL                                   access token from " + envSFAccessToken + " or a prompt\n" +
					"Credentials are sealed with the repository's master key; nothing is stored in plain text.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "auth", Usage: "login method: " + authKindList() + " (default: from the other flags)"},
					&cli.StringFlag{Name: "instance-url", Usage: "the org's `URL`, e.g. https://acme.my.salesforce.com"},
					&cli.StringFlag{Name: "login-url", Usage: "OAuth login `URL` (default: --instance-url, else " + backup.DefaultLoginURL + "; https://test.salesforce.com for sandboxes)"},
					&cli.StringFlag{Name: "client-id", Usage: "connected app consumer key"},
					&cli.StringFlag{Name: "jwt-key", Usage: "PEM RSA private key `FILE` of the connected app (JWT flow); its content is stored encrypted"},
					&cli.StringFlag{Name: "username", Usage: "Salesforce username"},
					&cli.StringFlag{Name: "target-org", Usage: "alias or username of an sf CLI login (`sf org list`)"},
					&cli.StringFlag{Name: "client-secret-file", Usage: "read the connected app's consumer secret from `FILE` (or set " + envSFClientSecret + ")"},
					&cli.StringFlag{Name: "api-version", Usage: "Salesforce API `VERSION`, e.g. 62.0 (default " + sfapi.DefaultAPIVersion + ")"},
					&cli.BoolFlag{Name: "force", Usage: "replace a profile of the same name"},
					jsonFlag(),
				},
				Action: nameThenFlags(orgAdd),
			},
			{
				Name:   "list",
				Usage:  "list org profiles",
				Flags:  []cli.Flag{jsonFlag()},
				Action: orgList,
			},
			{
				Name:      "show",
				Usage:     "show an org profile (credentials are never shown)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{jsonFlag()},
				Action:    nameThenFlags(orgShow),
			},
			{
				Name:      "remove",
				Usage:     "remove an org profile (snapshots taken with it are kept)",
				ArgsUsage: "NAME",
				Action:    nameThenFlags(orgRemove),
			},
			{
				Name:      "test",
				Usage:     "log in with an org profile and print the org, user, instance and API usage",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{jsonFlag()},
				Action:    nameThenFlags(orgTest),
			},
		},
	}
}

// reparsed marks a context whose command line nameThenFlags already
// rearranged, so it is never rearranged twice.
type reparsed struct{}

// nameThenFlags lets flags follow the NAME argument, as the guide writes
// `orgsnap org add NAME --flag …`: urfave/cli stops reading flags at the
// first argument, so when flags follow NAME the command is parsed again
// with NAME moved after them. Flags given before NAME are passed again as
// --flag=value (all flags of these commands are strings or booleans).
func nameThenFlags(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		args := c.Args().Slice()
		if len(args) < 2 || !strings.HasPrefix(args[1], "-") || c.Context.Value(reparsed{}) != nil {
			return action(c)
		}
		again := []string{c.Command.Name}
		for _, n := range c.LocalFlagNames() {
			if n == "help" {
				continue
			}
			v := c.String(n)
			for _, f := range c.Command.Flags {
				if _, isBool := f.(*cli.BoolFlag); isBool && slices.Contains(f.Names(), n) {
					v = strconv.FormatBool(c.Bool(n))
				}
			}
			again = append(again, "--"+n+"="+v)
		}
		again = append(append(again, args[1:]...), args[0])
		parent := c.Lineage()[1]
		nc := cli.NewContext(c.App, nil, parent)
		nc.Command = c.Command
		nc.Context = context.WithValue(background(c), reparsed{}, true)
		return c.Command.Run(nc, again...)
	}
}

func authKindList() string {
	s := make([]string, len(backup.AuthKinds))
	for i, k := range backup.AuthKinds {
		s[i] = string(k)
	}
	return strings.Join(s, "|")
}

// wantJSON reports whether --json was given globally or on the subcommand:
// a subcommand's own --json flag shadows the global one in c.Bool.
func wantJSON(c *cli.Context) bool {
	for _, x := range c.Lineage() {
		if x.Bool("json") {
			return true
		}
	}
	return false
}

// profileArg returns the one NAME argument, validated.
func profileArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("org %s takes one profile NAME (see `orgsnap org list`)", c.Command.Name)
	}
	name := c.Args().First()
	if err := backup.ValidProfileName(name); err != nil {
		return "", usageError{err.Error()}
	}
	return name, nil
}

// orgAuthKind decides the login method from --auth or the other flags.
func orgAuthKind(c *cli.Context) (backup.AuthKind, error) {
	if a := c.String("auth"); a != "" {
		k := backup.AuthKind(a)
		if !slices.Contains(backup.AuthKinds, k) {
			return "", usagef("--auth %q: use one of %s", a, authKindList())
		}
		return k, nil
	}
	switch {
	case c.IsSet("target-org"):
		return backup.AuthSFCLI, nil
	case c.IsSet("jwt-key"):
		return backup.AuthJWT, nil
	case c.IsSet("username"):
		return backup.AuthPassword, nil
	case c.IsSet("client-secret-file"):
		return backup.AuthClientCredentials, nil
	}
	return "", usagef("say how to log in: --jwt-key FILE (JWT), --target-org ALIAS (sf CLI), --username U (password), " +
		"or --auth refresh|client-credentials|token (see `orgsnap org add --help`)")
}

func orgAdd(c *cli.Context) error {
	ctx := background(c)
	name, err := profileArg(c)
	if err != nil {
		return err
	}
	kind, err := orgAuthKind(c)
	if err != nil {
		return err
	}
	for _, f := range c.Command.Flags {
		fn := f.Names()[0]
		if c.IsSet(fn) && fn != "auth" && fn != "force" && fn != "json" && !slices.Contains(orgAddFlags[kind], fn) {
			return usagef("--%s does not apply to the %s (--auth %s)", fn, kind.Describe(), kind)
		}
	}
	p := backup.Profile{
		Name: name, Auth: kind,
		InstanceURL: strings.TrimRight(c.String("instance-url"), "/"),
		LoginURL:    strings.TrimRight(c.String("login-url"), "/"),
		ClientID:    c.String("client-id"), Username: c.String("username"),
		TargetOrg: c.String("target-org"), APIVersion: c.String("api-version"),
	}
	if f := c.String("jwt-key"); f != "" {
		pemBytes, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--jwt-key: %w", err)
		}
		if _, err := sfapi.ParseRSAPrivateKey(pemBytes); err != nil {
			return fmt.Errorf("--jwt-key %s: %w", f, err)
		}
		p.JWTKey = backup.Secret(pemBytes)
	}
	if kind == backup.AuthPassword || kind == backup.AuthRefresh || kind == backup.AuthClientCredentials {
		if f := c.String("client-secret-file"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("--client-secret-file: %w", err)
			}
			p.ClientSecret = backup.Secret(bytes.TrimRight(b, "\r\n"))
		} else {
			p.ClientSecret = backup.Secret(os.Getenv(envSFClientSecret))
		}
	}
	switch kind {
	case backup.AuthPassword:
		p.Password = backup.Secret(os.Getenv(envSFPassword))
	case backup.AuthRefresh:
		p.RefreshToken = backup.Secret(os.Getenv(envSFRefreshToken))
	case backup.AuthToken:
		p.AccessToken = backup.Secret(os.Getenv(envSFAccessToken))
	}
	// Everything but credentials is checked before the repository password
	// is asked for; a missing credential is asked for after.
	if err := p.Validate(); err != nil && !errors.Is(err, backup.ErrMissingSecret) {
		return usageError{err.Error()}
	}

	r, err := openRepo(c, true)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := backup.LoadProfile(ctx, r, name); err == nil && !c.Bool("force") {
		return fmt.Errorf("org profile %q already exists: pass --force to replace it, or `orgsnap org remove %s` first", name, name)
	} else if err != nil && !errors.Is(err, repo.ErrNotFound) {
		return err
	}
	if err := askMissingSecret(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if err := backup.SaveProfile(ctx, r, p); err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, p)
	}
	out(c, "added org profile %s: %s\n", name, describeLogin(p))
	if s := p.StoredSecrets(); len(s) > 0 {
		out(c, "stored encrypted in the repository: %s\n", strings.Join(s, ", "))
	}
	out(c, "check the connection with `orgsnap org test %s`\n", name)
	return nil
}

// askMissingSecret prompts on the terminal for the credential the profile's
// login method needs, if the environment did not give it.
func askMissingSecret(p *backup.Profile) error {
	var dst *backup.Secret
	var prompt, env string
	switch p.Auth {
	case backup.AuthPassword:
		dst, env, prompt = &p.Password, envSFPassword, fmt.Sprintf("Salesforce password for %s (followed by the security token if needed): ", p.Username)
	case backup.AuthRefresh:
		dst, env, prompt = &p.RefreshToken, envSFRefreshToken, "refresh token: "
	case backup.AuthClientCredentials:
		dst, env, prompt = &p.ClientSecret, envSFClientSecret, "connected app consumer secret: "
	case backup.AuthToken:
		dst, env, prompt = &p.AccessToken, envSFAccessToken, "access token: "
	default:
		return nil
	}
	if *dst != "" {
		return nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return usagef("the %s needs a credential: set %s (there is no terminal to ask on)", p.Auth.Describe(), env)
	}
	b, err := ask(prompt, false)
	if err != nil {
		return err
	}
	*dst = backup.Secret(b)
	return nil
}

// describeLogin says in one line how a profile logs in.
func describeLogin(p backup.Profile) string {
	switch p.Auth {
	case backup.AuthSFCLI:
		return fmt.Sprintf("%s %q", p.Auth.Describe(), p.TargetOrg)
	case backup.AuthToken:
		return fmt.Sprintf("%s for %s", p.Auth.Describe(), p.InstanceURL)
	}
	s := p.Auth.Describe()
	if p.Username != "" {
		s += " as " + p.Username
	}
	return s + " via " + p.EffectiveLoginURL()
}

func orgList(c *cli.Context) error {
	r, err := openRepo(c, true)
	if err != nil {
		return err
	}
	defer r.Close()
	ps, err := backup.Profiles(background(c), r)
	if err != nil && ps == nil {
		return err
	}
	if wantJSON(c) {
		if ps == nil {
			ps = []backup.Profile{}
		}
		if jerr := printJSON(c, ps); jerr != nil {
			return jerr
		}
		return err
	}
	if len(ps) == 0 && err == nil {
		out(c, "no org profiles: add one with `orgsnap org add NAME …` (see `orgsnap org add --help`)\n")
		return nil
	}
	w := 4
	for _, p := range ps {
		w = max(w, len(p.Name))
	}
	out(c, "%-*s  %-18s  %s\n", w, "NAME", "AUTH", "LOGIN")
	for _, p := range ps {
		out(c, "%-*s  %-18s  %s\n", w, p.Name, p.Auth, describeLogin(p))
	}
	return err
}

// nameAndRepo reads the NAME argument, then opens the repository without
// the lock (profiles are settings: repo/settings.go). The caller closes it.
func nameAndRepo(c *cli.Context) (string, *repo.Repository, error) {
	name, err := profileArg(c)
	if err != nil {
		return "", nil, err
	}
	r, err := openRepo(c, true)
	return name, r, err
}

func orgShow(c *cli.Context) error {
	name, r, err := nameAndRepo(c)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := backup.LoadProfile(background(c), r, name)
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, p) // Secret fields marshal as the placeholder
	}
	line := func(label, v string) {
		if v != "" {
			out(c, "%-14s %s\n", label+":", v)
		}
	}
	line("name", p.Name)
	line("auth", fmt.Sprintf("%s (%s)", p.Auth, p.Auth.Describe()))
	line("target org", p.TargetOrg)
	line("instance URL", p.InstanceURL)
	if p.UsesLoginURL() {
		line("login URL", p.EffectiveLoginURL())
	}
	line("client id", p.ClientID)
	line("username", p.Username)
	line("API version", p.APIVersion)
	// Secret's String method prints the placeholder, never the value.
	line("JWT key", p.JWTKey.String())
	line("client secret", p.ClientSecret.String())
	line("password", p.Password.String())
	line("refresh token", p.RefreshToken.String())
	line("access token", p.AccessToken.String())
	return nil
}

func orgRemove(c *cli.Context) error {
	name, r, err := nameAndRepo(c)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := backup.RemoveProfile(background(c), r, name); err != nil {
		return err
	}
	out(c, "removed org profile %s (its snapshots are kept)\n", name)
	return nil
}

func orgTest(c *cli.Context) error {
	ctx := background(c)
	name, r, err := nameAndRepo(c)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := backup.LoadProfile(ctx, r, name)
	if err != nil {
		return err
	}
	client, err := p.Client(ctx, backup.ClientOptions{Repository: r})
	if err != nil {
		return err
	}
	info, err := backup.Probe(ctx, client)
	if err != nil {
		hint := fmt.Sprintf("check the profile with `orgsnap org show %s` and replace it with `orgsnap org add %s --force …`", name, name)
		if p.Auth == backup.AuthPassword && p.ClientSecret == "" {
			hint += "; if the connected app requires its consumer secret, add it with --client-secret-file or " + envSFClientSecret
		}
		return fmt.Errorf("org profile %s could not connect: %w\n%s", name, err, hint)
	}
	if info.Username == "" {
		info.Username = p.Username
	}
	if wantJSON(c) {
		return printJSON(c, struct {
			Profile string `json:"profile"`
			*backup.OrgInfo
		}{name, info})
	}
	org := info.OrgID
	if info.OrgName != "" {
		org += " (" + info.OrgName + ")"
	}
	user := info.Username
	if user == "" {
		user = "(unknown)"
	}
	if info.UserID != "" {
		user += " (" + info.UserID + ")"
	}
	out(c, "connected with org profile %s (%s)\n", name, p.Auth.Describe())
	out(c, "org:           %s\n", org)
	out(c, "user:          %s\n", user)
	out(c, "instance URL:  %s\n", info.InstanceURL)
	out(c, "API version:   %s\n", info.APIVersion)
	if info.APIMax > 0 {
		out(c, "API requests:  %d of %d used in the last 24 hours (%.1f%%)\n", info.APIUsed, info.APIMax, float64(info.APIUsed)*100/float64(info.APIMax))
	} else {
		out(c, "API requests:  (the org did not report its usage)\n")
	}
	return nil
}
