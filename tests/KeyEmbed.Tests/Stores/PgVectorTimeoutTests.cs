using Npgsql;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Postgres;

namespace KeyEmbed.Tests.Stores;

/// <summary>
/// A statement that outlives the command timeout on a reachable server (found by the 100,000-vector benchmark: a chunk's
/// insert into a large HNSW index ran past Npgsql's 30 s) is reported as what it is, not as "cannot reach PostgreSQL".
/// </summary>
[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector")]
public sealed class PgVectorTimeoutTests(PostgresServer postgres)
{
    [Fact]
    public void A_statement_past_the_command_timeout_says_so_and_how_to_allow_longer()
    {
        string location = postgres.NewStore("locked");
        using (VectorStores.Open(location, StoreAccess.Write)) { } // creates the extension and the profile table

        // Another session holds the profile table, so reading the store's profile waits past a one-second limit.
        var (builder, _, _) = PgVectorStore.Parse(location);
        using var holder = new NpgsqlConnection(builder.ConnectionString);
        holder.Open();
        using var transaction = holder.BeginTransaction();
        using (var lockTable = new NpgsqlCommand("LOCK TABLE keyembed_stores IN ACCESS EXCLUSIVE MODE", holder, transaction))
            lockTable.ExecuteNonQuery();

        var error = Assert.Throws<KeyEmbedException>(() => VectorStores.Open(location + "&command_timeout=1", StoreAccess.Read));
        transaction.Rollback();
        Assert.Equal(ErrorKind.Runtime, error.Kind);
        Assert.Contains("within 1 s", error.Message);
        Assert.Contains("command_timeout", error.Message);
        Assert.DoesNotContain("cannot reach", error.Message);
        Assert.Contains(builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Theory]
    [InlineData("command_timeout=soon", "whole number of seconds")]
    [InlineData("timeout=5", "unknown URL parameter 'timeout'")]
    [InlineData("hnsw_m=many", "hnsw_m 'many' is not a whole number")]
    [InlineData("hnsw_m=1", "hnsw_m must be between 2 and 100")]
    [InlineData("hnsw_m=16&hnsw_ef_construction=20", "hnsw_ef_construction must be between 2 × hnsw_m (32) and 1000")]
    [InlineData("hnsw_ef_construction=1001", "got 1001")]
    public void A_bad_url_parameter_is_named(string parameter, string expected)
    {
        var error = Assert.Throws<KeyEmbedException>(() => PgVectorStore.Parse($"postgres://u@127.0.0.1:1/db?table=t&{parameter}"));
        Assert.Equal(ErrorKind.InvalidInput, error.Kind);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void The_url_sets_the_command_timeout()
    {
        var (builder, table, _) = PgVectorStore.Parse("postgres://u@127.0.0.1:1/db?table=t&command_timeout=0");
        Assert.Equal(0, builder.CommandTimeout);
        Assert.Equal("t", table);
    }
}
