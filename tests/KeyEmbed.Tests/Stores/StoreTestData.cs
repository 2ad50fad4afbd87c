using System.Numerics.Tensors;
using KeyEmbed.Stores;
using Microsoft.Data.Sqlite;

namespace KeyEmbed.Tests.Stores;

/// <summary>What the store tests share: a 16-dimensional test profile, random unit vectors, and a folder store's meta.</summary>
internal static class StoreTestData
{
    public static readonly StoreProfile Profile = new("test", "0123456789abcdef", [1], "sum", "mean", false, true, 16, "float32");

    public static float[] Unit(Random random, int width = 16)
    {
        var v = new float[width];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }

    /// <summary>Items id<paramref name="from"/>… with texts, and a random unit vector for each.</summary>
    public static (StoreItem[] Items, float[][] Vectors) Batch(Random random, int from, int count) =>
        ([.. Enumerable.Range(from, count).Select(i => new StoreItem("id" + i, "text " + i))], [.. Enumerable.Range(0, count).Select(_ => Unit(random))]);

    /// <summary>
    /// Sets (or, with null, removes) one entry of a closed folder store's <c>store.db</c> meta table, as a store made
    /// by an older version or a tuning with another outcome would have left it; returns the rows changed.
    /// </summary>
    public static int SetFolderMeta(string storeFolder, string key, string? value)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(storeFolder, "store.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = value is null ? "DELETE FROM meta WHERE key = $key" : "INSERT OR REPLACE INTO meta (key, value) VALUES ($key, $value)";
        command.Parameters.AddWithValue("$key", key);
        if (value is not null) command.Parameters.AddWithValue("$value", value);
        return command.ExecuteNonQuery();
    }
}
