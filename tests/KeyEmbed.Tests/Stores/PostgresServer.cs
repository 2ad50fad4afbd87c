using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace KeyEmbed.Tests.Stores;

/// <summary>
/// A PostgreSQL server with pgvector for the store tests. <c>$KEYEMBED_TEST_POSTGRES</c> (a
/// <c>postgres://user@host:port/database</c> URL; <c>.ci/run</c> starts a throwaway cluster and sets it) wins;
/// otherwise a throwaway cluster is started here from the machine's PostgreSQL 15 (initdb in a temporary folder,
/// loopback port, stopped and deleted at the end). Without either, every test of the collection fails saying it
/// needs PostgreSQL with pgvector — never skipped.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    public const string Variable = "KEYEMBED_TEST_POSTGRES";
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private readonly string? _folder;

    public PostgresServer()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given)
        {
            Url = given.TrimEnd('/');
            return;
        }
        if (!File.Exists(Path.Combine(Bin, "initdb")) || !File.Exists("/usr/share/postgresql/15/extension/vector.control"))
            throw new InvalidOperationException(
                $"This test needs PostgreSQL 15 with pgvector: set {Variable}=postgres://user@host:port/database, or install postgresql-15 and build pgvector as .ci/run does.");
        _folder = Path.Combine(Path.GetTempPath(), "keyembed-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_folder);
        bool root = Environment.UserName == "root";
        if (root) Run("chown", "postgres", _folder);
        int port = FreePort();
        string data = Path.Combine(_folder, "data");
        AsPostgres(root, Path.Combine(Bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8");
        AsPostgres(root, Path.Combine(Bin, "pg_ctl"), "-D", data, "-l", Path.Combine(_folder, "server.log"), "-w", "-o",
            $"-p {port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
        using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres"))
        {
            connection.Open();
            using var create = new NpgsqlCommand("CREATE DATABASE keyembed_test", connection);
            create.ExecuteNonQuery();
        }
        Url = $"postgres://postgres@127.0.0.1:{port}/keyembed_test";
    }

    /// <summary><c>postgres://user@host:port/database</c>, no table.</summary>
    public string Url { get; }

    /// <summary>A store location on a table of its own.</summary>
    public string NewStore(string prefix = "t") => $"{Url}?table={prefix}_{Guid.NewGuid().ToString("N")[..10]}";

    public void Dispose()
    {
        if (_folder is null) return;
        try
        {
            AsPostgres(Environment.UserName == "root", Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop");
        }
        finally
        {
            try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static void AsPostgres(bool root, string program, params string[] args)
    {
        if (root) Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Run(program, args);
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) { process.Kill(true); throw new InvalidOperationException($"{program} did not finish in 2 minutes"); }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {output.Result}{error.Result}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition("PostgreSQL")]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;
