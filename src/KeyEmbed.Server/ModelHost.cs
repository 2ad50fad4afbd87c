using KeyEmbed.Server.Http;

namespace KeyEmbed.Server;

/// <summary>The model being loaded or loaded; routes that need it answer 503 until it is ready.</summary>
internal sealed class ModelHost(Task<IEmbeddingBackend> loading)
{
    public Task<IEmbeddingBackend> Loading { get; } = loading;

    public bool IsReady => Loading.IsCompletedSuccessfully;

    /// <summary>The loaded backend, or a 503 saying the model is still loading (or why it failed).</summary>
    public IEmbeddingBackend Backend
    {
        get
        {
            if (Loading.IsCompletedSuccessfully) return Loading.Result;
            if (Loading.IsFaulted || Loading.IsCanceled)
                throw new ApiException(ApiErrorKind.ModelError, "The model failed to load: " + FailureMessage);
            throw new ApiException(ApiErrorKind.ModelLoading, "The model is still loading; retry shortly (GET /health says when it is ready).");
        }
    }

    public string FailureMessage => Loading.Exception?.GetBaseException().Message ?? (Loading.IsCanceled ? "loading was cancelled" : "");
}
