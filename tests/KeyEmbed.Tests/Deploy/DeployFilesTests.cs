using System.CommandLine;
using System.Text.RegularExpressions;
using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Server;
using KeyEmbed.Tests.Server;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using YamlDotNet.RepresentationModel;

namespace KeyEmbed.Tests.Deploy;

/// <summary>
/// Every command, flag, route and port named in deploy/ (HAProxy, Kubernetes manifests, Dockerfile) checked against
/// the real CLI (its command tree) and the real service (its mapped routes), so the deployment files cannot rot.
/// </summary>
public sealed class DeployFilesTests
{
    private static string Deploy(params string[] parts) => Path.Combine([SharedData.RepoRoot, "deploy", .. parts]);

    private static readonly IReadOnlyList<Command> Commands = [.. CommandCatalog.All(new CliContext(TextWriter.Null, TextWriter.Null))];

    // The GET routes the service maps, as "GET /path".
    private static readonly HashSet<string> Routes = RealRoutes();

    private static HashSet<string> RealRoutes()
    {
        var app = KeyEmbedServer.Build(new FakeBackend(), new ServerOptions { Port = 0 }, logging => logging.ClearProviders());
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in ((IEndpointRouteBuilder)app).DataSources)
            foreach (var endpoint in source.Endpoints.OfType<RouteEndpoint>())
                foreach (var method in endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? [])
                    routes.Add($"{method} /{endpoint.RoutePattern.RawText!.TrimStart('/')}");
        return routes;
    }

    /// <summary>Checks a command line: a real command, then only its options (values not starting with -- are values).</summary>
    private static void CheckCommandLine(IReadOnlyList<string> args, string where)
    {
        Assert.True(args.Count > 0, $"{where}: no command");
        var command = Commands.SingleOrDefault(c => c.Name == args[0]);
        Assert.True(command is not null, $"{where}: '{args[0]}' is not a keyembed command ({string.Join(", ", Commands.Select(c => c.Name))})");
        var names = command!.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
        foreach (var flag in args.Skip(1).Where(a => a.StartsWith("--", StringComparison.Ordinal)))
            Assert.True(names.Contains(flag), $"{where}: '{flag}' is not an option of keyembed {command.Name}");
        // The same line must parse (values of the right types, required options present), variables aside.
        var concrete = args.Select(a => Regex.Replace(a, @"\$\((\w+)\)", m => m.Groups[1].Value switch
        {
            "JOB_COMPLETION_INDEX" => "0",
            "KEYEMBED_STORE" => "postgres://u@h:5432/d",
            var name when name.Contains("SECONDS") || name.Contains("TOKENS") || name.Contains("INPUTS") => "1",
            "PRECISION" => "float32",
            var other => other,
        })).ToArray();
        var errors = command.Parse(concrete.Skip(1).ToArray()).Errors;
        Assert.True(errors.Count == 0, $"{where}: {string.Join("; ", errors.Select(e => e.Message))}");
    }

    private static int PortArgument(IReadOnlyList<string> args) => int.Parse(args[args.ToList().IndexOf("--port") + 1], System.Globalization.CultureInfo.InvariantCulture);

    private static List<YamlMappingNode> Documents(string file)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(file)) stream.Load(reader);
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static YamlNode Get(YamlNode node, params string[] path)
    {
        foreach (var key in path) node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        return node;
    }

    private static string Scalar(YamlNode node, params string[] path) => ((YamlScalarNode)Get(node, path)).Value!;

    private static bool Has(YamlNode node, string key) => node is YamlMappingNode map && map.Children.ContainsKey(new YamlScalarNode(key));

    private static List<string> List(YamlNode node, params string[] path) =>
        [.. ((YamlSequenceNode)Get(node, path)).Children.Select(c => ((YamlScalarNode)c).Value!)];

    [Fact]
    public void Kubernetes_manifests_use_real_commands_flags_routes_ports_and_names()
    {
        var all = Directory.GetFiles(Deploy("kubernetes"), "*.yaml").SelectMany(Documents).ToList();
        YamlMappingNode Kind(string kind) => all.Single(d => Scalar(d, "kind") == kind);
        var configMap = Kind("ConfigMap");
        var secret = Kind("Secret");
        var variables = ((YamlMappingNode)Get(configMap, "data")).Children.Keys.Select(k => ((YamlScalarNode)k).Value!)
            .Concat(((YamlMappingNode)Get(secret, "stringData")).Children.Keys.Select(k => ((YamlScalarNode)k).Value!)).ToHashSet();
        Assert.Contains(KeyEmbedServer.ApiKeyVariable, variables);

        // The Deployment: serve with real flags; the probes on real routes through the declared port.
        var deployment = Kind("Deployment");
        var container = (YamlMappingNode)((YamlSequenceNode)Get(deployment, "spec", "template", "spec", "containers")).Children.Single();
        var args = List(container, "args");
        CheckCommandLine(args, "deployment.yaml");
        Assert.Equal("serve", args[0]);
        foreach (var reference in args.SelectMany(a => Regex.Matches(a, @"\$\((\w+)\)").Select(m => m.Groups[1].Value)))
            Assert.True(variables.Contains(reference), $"deployment.yaml: $({reference}) is in neither the ConfigMap nor the Secret");
        foreach (var source in (YamlSequenceNode)Get(container, "envFrom"))
        {
            string name = Has(source, "configMapRef") ? Scalar(source, "configMapRef", "name") : Scalar(source, "secretRef", "name");
            Assert.Contains(name, new[] { Scalar(configMap, "metadata", "name"), Scalar(secret, "metadata", "name") });
        }
        var port = (YamlMappingNode)((YamlSequenceNode)Get(container, "ports")).Children.Single();
        Assert.Equal(PortArgument(args), int.Parse(Scalar(port, "containerPort"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0.0.0.0", args[args.IndexOf("--host") + 1]);
        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            var path = Scalar(container, probe, "httpGet", "path");
            Assert.True(Routes.Contains("GET " + path), $"deployment.yaml {probe}: GET {path} is not a route ({string.Join(", ", Routes)})");
            Assert.Equal(Scalar(port, "name"), Scalar(container, probe, "httpGet", "port"));
        }
        Assert.Equal("/health/ready", Scalar(container, "readinessProbe", "httpGet", "path"));
        int grace = int.Parse(Scalar(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture);
        int drain = int.Parse(Scalar(configMap, "data", "DRAIN_SECONDS"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(grace > drain + 10, $"terminationGracePeriodSeconds {grace} leaves too little after a {drain} s drain");

        // Service → the container's named port; HPA → the Deployment.
        var service = Kind("Service");
        Assert.Equal(Scalar(port, "name"), Scalar((YamlMappingNode)((YamlSequenceNode)Get(service, "spec", "ports")).Children.Single(), "targetPort"));
        Assert.Equal(Scalar(deployment, "spec", "template", "metadata", "labels", "app"), Scalar(service, "spec", "selector", "app"));
        var hpa = Kind("HorizontalPodAutoscaler");
        Assert.Equal(Scalar(deployment, "metadata", "name"), Scalar(hpa, "spec", "scaleTargetRef", "name"));
        Assert.Equal("Deployment", Scalar(hpa, "spec", "scaleTargetRef", "kind"));

        // The Indexed Job: index --shard $(JOB_COMPLETION_INDEX)/N with N = completions.
        var job = Kind("Job");
        Assert.Equal("Indexed", Scalar(job, "spec", "completionMode"));
        var jobContainer = (YamlMappingNode)((YamlSequenceNode)Get(job, "spec", "template", "spec", "containers")).Children.Single();
        var jobArgs = List(jobContainer, "args");
        CheckCommandLine(jobArgs, "index-job.yaml");
        Assert.Equal("index", jobArgs[0]);
        Assert.Equal($"$(JOB_COMPLETION_INDEX)/{Scalar(job, "spec", "completions")}", jobArgs[jobArgs.IndexOf("--shard") + 1]);
        var env = ((YamlSequenceNode)Get(jobContainer, "env")).Children.Single();
        Assert.Equal(Scalar(secret, "metadata", "name"), Scalar(env, "valueFrom", "secretKeyRef", "name"));
        Assert.Contains(Scalar(env, "valueFrom", "secretKeyRef", "key"), variables);
    }

    [Fact]
    public void Dockerfile_runs_the_published_cli_with_real_flags_on_the_exposed_port()
    {
        var lines = File.ReadAllLines(Deploy("Dockerfile"));
        string[] Json(string instruction) => System.Text.Json.JsonSerializer.Deserialize<string[]>(lines.Single(l => l.StartsWith(instruction + " ", StringComparison.Ordinal))[(instruction.Length + 1)..])!;
        var entry = Json("ENTRYPOINT");
        Assert.Equal("dotnet", entry[0]);
        Assert.Equal(typeof(CliApp).Assembly.GetName().Name + ".dll", Path.GetFileName(entry[1]));
        Assert.Contains(lines, l => l.Contains("dotnet publish src/KeyEmbed.Cli ", StringComparison.Ordinal) && l.Contains("-o " + Path.GetDirectoryName(entry[1]), StringComparison.Ordinal));
        var cmd = Json("CMD");
        CheckCommandLine(cmd, "Dockerfile CMD");
        int exposed = int.Parse(lines.Single(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))[7..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(exposed, PortArgument(cmd));
        var deployment = Documents(Deploy("kubernetes", "deployment.yaml")).Single();
        var container = ((YamlSequenceNode)Get(deployment, "spec", "template", "spec", "containers")).Children.Single();
        Assert.Equal(exposed, int.Parse(Scalar(((YamlSequenceNode)Get(container, "ports")).Children.Single(), "containerPort"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Haproxy_configuration_checks_a_real_readiness_route_and_names_real_serve_flags()
    {
        var text = File.ReadAllText(Deploy("haproxy", "haproxy.cfg"));
        var check = Regex.Match(text, @"option httpchk (GET) (\S+)");
        Assert.True(check.Success, "haproxy.cfg has no httpchk");
        Assert.True(Routes.Contains($"{check.Groups[1].Value} {check.Groups[2].Value}"), $"haproxy.cfg checks {check.Groups[2].Value}, not a route");
        Assert.Equal("/health/ready", check.Groups[2].Value);
        var servers = Regex.Matches(text, @"^\s*server \S+ 127\.0\.0\.1:(\d+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(servers.Count >= 2 && servers.Distinct().Count() == servers.Count, "replicas on distinct ports");
        // The serve lines in its comments start the replicas it expects.
        var serveLine = Regex.Match(text, @"keyembed (serve [^\n(]+)");
        Assert.True(serveLine.Success, "haproxy.cfg says how to start a replica");
        var args = serveLine.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a.Trim('"')).ToList();
        CheckCommandLine([.. args.Select(a => a == "$KEYEMBED_STORE" ? "postgres://u@h:5432/d" : a)], "haproxy.cfg comment");
        Assert.Contains(PortArgument(args).ToString(System.Globalization.CultureInfo.InvariantCulture), servers);
        foreach (var setting in new[] { "retries", "option redispatch", "retry-on" }) Assert.Contains(setting, text);
    }
}
