/* Generated from openapi/openapi.json by `npm run openapi`; do not edit. */
export interface paths {
    "/v1/artifacts/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an artifact's metadata
         * @description Its kind, name, size, sha256 and content type, and the build it belongs to. The bytes are at /v1/artifacts/{id}/content.
         */
        get: operations["Artifacts_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/artifacts/{id}/content": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download an artifact
         * @description The artifact's bytes. With object storage that signs URLs, a 302 to a short-lived URL (redirect=false streams through the API instead). The response carries the sha256 (ETag, X-Content-SHA256). A single byte range (Range: bytes=start-end, with If-Range) gets a 206 with Content-Range, a range outside the file a 416; several ranges get the whole file.
         */
        get: operations["Artifacts_content"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List jobs
         * @description The tenant's jobs, newest first, a page at a time (nextCursor), optionally by status or by the start of their id.
         */
        get: operations["Jobs_list"];
        put?: never;
        /**
         * Create a job
         * @description Source (files, or an uploaded archive) or an ONNX model, with the targets to build for: one build per target, queued at once (202). With verify, each build also runs on its target's runner and is compared with a reference. With an Idempotency-Key, a retry returns the same job instead of making another.
         */
        post: operations["Jobs_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a job
         * @description The job with each build: its state and why, diagnostics, artifacts, verification report, timings and state changes.
         */
        get: operations["Jobs_get"];
        put?: never;
        post?: never;
        /**
         * Cancel or delete a job
         * @description Without purge: the builds that have not finished are canceled and the job is returned. With purge=true: a finished job is deleted with its builds, artifacts and reports (204).
         */
        delete: operations["Jobs_cancel"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/jobs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Follow a job's state changes
         * @description Server-sent events, one per state change of a build, in the order they were recorded, then end once every build has finished. Resumes after Last-Event-ID.
         */
        get: operations["Jobs_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/jobs/{id}/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List a job's webhook deliveries
         * @description Each delivery attempt of the job's job.finished event: when, the answer's status, and the error if any.
         */
        get: operations["JobWebhooks_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the tenant's API keys
         * @description Every key of the caller's tenant that is not revoked: its name, prefix, scopes and when it was made. Secrets are never shown again. Needs the admin scope.
         */
        get: operations["Keys_list"];
        put?: never;
        /**
         * Create an API key
         * @description A new key for the caller's tenant with the scopes asked for (read and build by default). The secret is in this answer only: store it now. Needs the admin scope.
         */
        post: operations["Keys_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/keys/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an API key
         * @description The key stops working at once (within the API's key cache, a few seconds at most). Needs the admin scope.
         */
        delete: operations["Keys_revoke"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models/compilers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the model compilers
         * @description Each model compiler, the kinds of target it builds for, and the ONNX operators it supports, so a model can be checked before it is sent.
         */
        get: operations["Models_compilers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models/inspect": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Inspect an uploaded model
         * @description Reads an uploaded ONNX model as a job would: its inputs and outputs with their shapes (bound by inputShapes), the operators it uses, and which targets can compile them. Nothing is built.
         */
        post: operations["Models_inspect"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/quotas": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get the tenant's quotas and usage
         * @description Concurrent builds, stored bytes and upload size: the limits and what is in use now.
         */
        get: operations["Quotas_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/targets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List targets and presets
         * @description Every target Kiln knows, whether a live worker builds it and can verify it now (and on which runners), its toolchains, CPUs and languages; and the presets (product names such as graviton3 or h100) that stand for a target, CPU and features.
         */
        get: operations["Targets_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List uploads
         * @description The tenant's uploads, newest first, a page at a time (nextCursor).
         */
        get: operations["Uploads_list"];
        put?: never;
        /**
         * Upload a file
         * @description The request body is the file's bytes (a source file, an archive, a model, a tensor). The answer has the upload's id for a job to name, and the bytes' sha256.
         */
        post: operations["Uploads_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an upload's metadata
         * @description Its file name, content type, size, sha256 and when it was made.
         */
        get: operations["Uploads_get"];
        put?: never;
        post?: never;
        /**
         * Delete an upload
         * @description Refused with a 409 while a job that has not finished needs it.
         */
        delete: operations["Uploads_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get the webhook signing secret
         * @description The secret that signs the tenant's webhook deliveries (Kiln-Signature: t=...,v1=HMAC-SHA256). Needs the admin scope.
         */
        get: operations["WebhookSecret_get"];
        put?: never;
        /**
         * Rotate the webhook signing secret
         * @description A new secret signs every delivery from now on, retries included. Needs the admin scope.
         */
        post: operations["WebhookSecret_rotate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Who is calling
         * @description The caller's tenant and the key the request used, with its scopes: a quick check that a key works.
         */
        get: operations["WhoAmI_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        ApiKeyDto: {
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** @example ci */
            name: string;
            /**
             * @description The first characters of the key, to recognise it
             * @example kiln_3f9a
             */
            prefix: string;
            /** @description What the key may do */
            scopes: ("read" | "build" | "admin")[];
        };
        ApiKeyListDto: {
            items: components["schemas"]["ApiKeyDto"][];
        };
        ArchiveRefDto: {
            /**
             * Format: uuid
             * @description The upload holding the archive
             */
            uploadId: string;
        };
        ArtifactDto: {
            /** Format: uuid */
            buildId: string;
            /** @example application/x-object */
            contentType: string;
            /** @example /v1/artifacts/7f6c.../content */
            contentUrl: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /**
             * @description bundle: the files a runner verifies; report: the verification report; weights: a model's weights as raw bytes (model.weights.bin)
             * @enum {string}
             */
            kind: "object" | "executable" | "shared" | "static" | "assembly" | "llvm-ir" | "ptx" | "cubin" | "fatbin" | "code-object" | "header" | "c-source" | "metadata" | "weights" | "bundle" | "report";
            /** @example saxpy.o */
            name: string;
            /** @example e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 */
            sha256: string;
            /** @example 1234 */
            size: number;
        };
        BuildCacheDto: {
            /**
             * Format: uuid
             * @description For a hit, the earlier build whose result was reused. That build may since have been deleted (DELETE ?purge=true): this copy of its result stands on its own
             */
            from?: string | null;
            /** @enum {string} */
            status: "hit" | "miss" | "bypass";
        };
        BuildDto: {
            artifacts: components["schemas"]["ArtifactDto"][];
            attempts: number;
            /** @description Whether the result came from the build cache; null until a worker or the API decided */
            cache?: components["schemas"]["BuildCacheDto"] | null;
            diagnostics: components["schemas"]["DiagnosticDto"][];
            /** @description Every state change, oldest first */
            events: components["schemas"]["BuildEventDto"][];
            /** Format: uuid */
            id: string;
            /** @description The toolchain output (capped) */
            log?: string | null;
            /** @example cpu */
            pool: string;
            /** @enum {string} */
            status: "queued" | "waiting" | "compiling" | "compiled" | "verifying" | "succeeded" | "failed" | "canceled";
            /** @description Why the build is in this state: what it waits for, or why it failed */
            statusReason?: string | null;
            target: components["schemas"]["BuildTargetDto"];
            timings: components["schemas"]["TimingsDto"];
            toolchain?: components["schemas"]["ToolchainRefDto"] | null;
            /** @description The verification report, once a runner has checked the build */
            verification?: components["schemas"]["VerificationDto"] | null;
            /**
             * @description Where it is verified, when the job asks to verify
             * @example verify-aarch64
             */
            verifyPool?: string | null;
            worker?: string | null;
        };
        BuildEventDto: {
            /** Format: date-time */
            at: string;
            /** @enum {string|null} */
            from?: "queued" | "waiting" | "compiling" | "compiled" | "verifying" | "succeeded" | "failed" | "canceled" | null;
            message?: string | null;
            /** @enum {string} */
            to: "queued" | "waiting" | "compiling" | "compiled" | "verifying" | "succeeded" | "failed" | "canceled";
            worker?: string | null;
        };
        BuildTargetDto: {
            abi?: string | null;
            /** @example neoverse-v1 */
            cpu?: string | null;
            features: string[];
            floatAbi?: string | null;
            /** @description For a GPU target, its vendor and architecture */
            gpu?: components["schemas"]["GpuDto"] | null;
            /**
             * @description null for GPU code
             * @example glibc
             */
            libc?: string | null;
            /** @example aarch64-linux-gnu */
            name: string;
            /**
             * @example linux
             * @enum {string}
             */
            os: "linux" | "wasi" | "cuda" | "amdhsa";
            /**
             * @description The name used in the request
             * @example graviton3
             */
            requested: string;
            /** @example aarch64-unknown-linux-gnu */
            triple: string;
        };
        CreatedApiKeyDto: {
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** @example ci */
            name: string;
            /**
             * @description The first characters of the key, to recognise it
             * @example kiln_3f9a
             */
            prefix: string;
            /** @description What the key may do */
            scopes: ("read" | "build" | "admin")[];
            /** @description The key itself. Shown once: store it now. */
            secret: string;
        };
        CreateJobDto: {
            /**
             * @description Default use. use: a build whose input, target and toolchain version match an earlier succeeded build of this tenant reuses its result without compiling (each build says hit or miss). bypass: always compile (the fresh result then replaces the cached one).
             * @enum {string}
             */
            cache?: "use" | "bypass";
            /**
             * @description An http or https URL that gets a signed POST (a job.finished event) when every build of the job has finished; see the README's Webhooks section. Addresses on loopback, private or link-local networks are refused unless the server allows them.
             * @example https://ci.example.com/kiln-webhook
             */
            callbackUrl?: string;
            /**
             * @description A model's input shapes, binding its symbolic dimensions
             * @example {
             *       "x": [
             *         1,
             *         3,
             *         224,
             *         224
             *       ]
             *     }
             */
            inputShapes?: {
                [key: string]: number[];
            };
            /** @description An ONNX model to compile to dependency-free code. Give this or source. */
            model?: components["schemas"]["ModelRefDto"];
            /**
             * @description What to produce; default: the language's usual output (object for C, C++, LLVM IR and Fortran; executable for Go and Rust; ptx and cubin for CUDA; code-object for HIP). ptx, cubin and fatbin are CUDA device code; code-object is an AMD GPU code object. A model build also always gives its header, C source and metadata.
             * @example [
             *       "object",
             *       "assembly"
             *     ]
             */
            outputs?: ("object" | "executable" | "shared" | "static" | "assembly" | "llvm-ir" | "ptx" | "cubin" | "fatbin" | "code-object")[];
            /** @description Source code to compile. Give this or model. */
            source?: components["schemas"]["SourceDto"];
            /**
             * @description Short names, presets or descriptor objects; see GET /v1/targets
             * @example [
             *       "x86_64-linux-gnu",
             *       "aarch64-linux-gnu",
             *       {
             *         "features": [
             *           "+v"
             *         ],
             *         "triple": "riscv64-linux-gnu"
             *       }
             *     ]
             */
            targets: (string | components["schemas"]["TargetDescriptorDto"])[];
            /** @description Run what was built on an emulator or device and compare it with a reference. `true` runs the program (its main) with no arguments and compares its output with a reference build. */
            verify?: boolean | components["schemas"]["VerifyDto"];
        };
        CreateKeyDto: {
            /**
             * @description A name to tell the key apart, 1 to 100 characters
             * @example ci
             */
            name: string;
            /**
             * @description Default: read and build. read: every GET; build: create, cancel and delete jobs, create and delete uploads; admin: manage keys and the webhook signing secret
             * @example [
             *       "read",
             *       "build"
             *     ]
             */
            scopes?: ("read" | "build" | "admin")[];
        };
        DiagnosticDto: {
            /** @example 3 */
            column?: number | null;
            /** @example saxpy.c */
            file?: string | null;
            /** @example 4 */
            line?: number | null;
            message: string;
            /** @example -Wunused-variable */
            option?: string;
            /** @enum {string} */
            severity: "fatal" | "error" | "warning" | "note" | "remark";
        };
        ErrorDecadeDto: {
            count: number;
            /**
             * @description The bin holds absolute errors in [10^exponent, 10^(exponent+1))
             * @example -7
             */
            exponent: number;
            /** @description How many of them fail the tolerance */
            failed: number;
        };
        ErrorDto: {
            /**
             * @description Stable and machine-readable: branch on this, not on the message. By status: 400 invalid_request, 401 unauthenticated, 403 forbidden, 404 not_found, 405 method_not_allowed, 406 not_acceptable, 409 conflict, 410 gone, 411 length_required, 413 too_large, 415 unsupported_media_type, 416 range_not_satisfiable, 422 unprocessable, 429 rate_limited, 500 internal, 501 not_implemented, 503 unavailable; and idempotency_key_reused (422), an Idempotency-Key sent before with another request
             * @example invalid_request
             */
            code: string;
            /** @description When several things are wrong (a request that fails validation in several fields): each one; message joins them */
            details?: string[];
            /**
             * @description The status's reason phrase
             * @example Bad Request
             */
            error: string;
            /**
             * @description What went wrong and what to do, in one line
             * @example targets must be an array
             */
            message: string;
            /**
             * @description The X-Request-Id of the request, to quote to an operator
             * @example 5f0c2a9e-…
             */
            requestId: string;
            /** @example 400 */
            statusCode: number;
        };
        ErrorHistogramDto: {
            /** @description Non-empty bins only, by exponent */
            decades: components["schemas"]["ErrorDecadeDto"][];
            /** @description Elements equal to the reference */
            exact: number;
            /** @description Elements where NaN or an infinity on one side is not matched on the other */
            nonFinite: number;
        };
        GpuDescriptorDto: {
            /**
             * @description The GPU architecture, the same as "cpu"
             * @example sm_90
             */
            arch?: string;
            /**
             * @description Implied by the triple; when given, must agree with it
             * @enum {string}
             */
            vendor?: "nvidia" | "amd";
        };
        GpuDto: {
            /** @example sm_90 */
            arch: string;
            /** @enum {string} */
            vendor: "nvidia" | "amd";
        };
        InspectedTensorDto: {
            /** @example float32 */
            dtype: string;
            /** @example x */
            name: string;
            /**
             * @description Whole numbers, or the name of a symbolic dimension that inputShapes has not bound; ["*"] alone: the model declares no shape at all (give the whole shape in inputShapes)
             * @example [
             *       "batch",
             *       3,
             *       224,
             *       224
             *     ]
             */
            shape: (number | string)[];
        };
        InspectModelDto: {
            /**
             * @description Shapes that bind symbolic dimensions, as a job would give them
             * @example {
             *       "x": [
             *         1,
             *         3,
             *         224,
             *         224
             *       ]
             *     }
             */
            inputShapes?: {
                [key: string]: number[];
            };
            /**
             * Format: uuid
             * @description An upload holding the .onnx file
             */
            uploadId: string;
        };
        JobArchiveDto: {
            /** @description The bytes its files expand to */
            bytes: number;
            /** @example project.tar.gz */
            filename: string;
            /** @description The files in it, in archive order */
            files: string[];
            /** Format: uuid */
            uploadId: string;
        };
        JobDto: {
            builds: components["schemas"]["BuildDto"][];
            /** @description Where the job.finished webhook goes; GET /v1/jobs/{id}/webhooks lists the delivery attempts */
            callbackUrl?: string | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** @description The model, for a model job */
            model?: components["schemas"]["JobModelDto"] | null;
            outputs: ("object" | "executable" | "shared" | "static" | "assembly" | "llvm-ir" | "ptx" | "cubin" | "fatbin" | "code-object" | "header" | "c-source" | "metadata" | "weights")[];
            /** @description The source code, for a source job */
            source?: components["schemas"]["JobSourceDto"] | null;
            /**
             * @description Derived from the builds
             * @enum {string}
             */
            status: "queued" | "running" | "succeeded" | "failed" | "canceled";
            /** Format: date-time */
            updatedAt: string;
            /** @description The verification asked for, with its defaults filled in (tolerance, seed) */
            verify?: {
                [key: string]: unknown;
            } | null;
        };
        JobListDto: {
            items: components["schemas"]["JobSummaryDto"][];
            /** @description Pass as ?cursor= to get the next page; null on the last page */
            nextCursor?: string | null;
        };
        JobModelDto: {
            /** @example mobilenet.onnx */
            filename: string;
            inputs: components["schemas"]["ModelTensorDto"][];
            inputShapes: {
                [key: string]: number[];
            };
            /** @description Operators and how often each occurs */
            ops: {
                [key: string]: number;
            };
            outputs: components["schemas"]["ModelTensorDto"][];
            size: number;
            /**
             * @description Threads the compiled kernels may use
             * @example 1
             */
            threads: number;
            /** Format: uuid */
            uploadId: string;
        };
        JobSourceDto: {
            /** @description The project archive, when one was given */
            archive?: components["schemas"]["JobArchiveDto"] | null;
            defines: {
                [key: string]: string;
            };
            files: components["schemas"]["JobSourceFileDto"][];
            /** @enum {string} */
            language: "c" | "c++" | "llvm-ir" | "fortran" | "go" | "rust" | "cuda" | "hip";
            options: string[];
            /**
             * @description The toolchain the request asked for instead of the language's own; null for the default
             * @example gcc
             */
            toolchain?: string | null;
        };
        JobSourceFileDto: {
            path: string;
            size: number;
            /** Format: uuid */
            uploadId?: string;
        };
        JobSummaryBuildDto: {
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            status: "queued" | "waiting" | "compiling" | "compiled" | "verifying" | "succeeded" | "failed" | "canceled";
            target: string;
        };
        JobSummaryDto: {
            builds: components["schemas"]["JobSummaryBuildDto"][];
            /**
             * Format: date-time
             * @example 2026-12-08T09:30:00.000Z
             */
            createdAt: string;
            /**
             * Format: uuid
             * @example 6ed9277b-0c1f-4c2e-9a51-3d8e2f7b4a10
             */
            id: string;
            /**
             * @description The source language, or onnx for a model job
             * @enum {string}
             */
            language: "c" | "c++" | "onnx";
            /**
             * @example succeeded
             * @enum {string}
             */
            status: "queued" | "running" | "succeeded" | "failed" | "canceled";
        };
        KernelArgDto: {
            /**
             * @default in
             * @enum {string}
             */
            dir: "in" | "out" | "inout";
            /** @description An out or inout buffer: an uploaded tensor of the values it must hold after the call. Give it for every output or for none; with every output given, no reference build is made. */
            expected?: components["schemas"]["TensorUploadRefDto"];
            /** @description An in or inout buffer: an uploaded tensor to use instead of seeded random numbers (give range or input, not both) */
            input?: components["schemas"]["TensorUploadRefDto"];
            /** @example x */
            name: string;
            /**
             * @description Inputs are seeded random numbers in [min, max] (default [-1, 1] for floats)
             * @example [
             *       -1,
             *       1
             *     ]
             */
            range?: number[];
            /**
             * @description A buffer's shape
             * @example [
             *       1000
             *     ]
             */
            shape?: number[];
            /**
             * @description A dtype (float32, float64, int8..int64, uint8..uint64) for a scalar, or the dtype followed by * for a buffer
             * @example float32*
             */
            type: string;
            /** @description The value of a scalar (a string for 64-bit integers beyond 2^53) */
            value?: number | string;
        };
        KernelLaunchDto: {
            /**
             * @description Block dimensions x, y, z (at most 1024 threads in all)
             * @example [
             *       256
             *     ]
             */
            block: number[];
            /**
             * @description Grid dimensions x, y, z (1 to 3 numbers; missing ones are 1)
             * @example [
             *       256
             *     ]
             */
            grid: number[];
            /**
             * @description Dynamic shared memory in bytes (default 0)
             * @example 0
             */
            sharedBytes?: number;
        };
        KernelProfileDto: {
            /** @description Estimated floating-point operations of one run */
            flops: number;
            /** @description flops over ms */
            gflops: number;
            /**
             * @description The kernel, as the generated C names it: its node and what was fused into it
             * @example Conv /features/0/Conv + Relu
             */
            label: string;
            /** @description Time per run, ms */
            ms: number;
            /** @description The ONNX nodes it covers */
            nodes: string[];
            /**
             * @description Their operator types
             * @example [
             *       "Conv",
             *       "Relu"
             *     ]
             */
            ops: string[];
            /** @description Share of the kernels' total time, 0 to 1 */
            share: number;
        };
        KeyRefDto: {
            /** Format: uuid */
            id: string;
            /** @example ci */
            name: string;
            /** @description The first characters of the key, to recognise it */
            prefix: string;
            /** @description What the key may do */
            scopes: ("read" | "build" | "admin")[];
        };
        ModelCompilerDto: {
            /**
             * @description What it generates
             * @example c
             */
            backend: string;
            /** @example kiln-onnx */
            name: string;
            /** @description The ONNX operators it supports, sorted */
            ops: string[];
            /**
             * @description The kinds of target (GET /v1/targets, "kind") it compiles models for
             * @example [
             *       "cpu",
             *       "wasm"
             *     ]
             */
            targetKinds: string[];
            /**
             * @description When set, only these targets of those kinds
             * @example [
             *       "nvptx64-nvidia-cuda"
             *     ]
             */
            targets?: string[];
            /** @example 0.1.0 */
            version: string;
        };
        ModelCompilersDto: {
            compilers: components["schemas"]["ModelCompilerDto"][];
        };
        ModelInspectionDto: {
            /** @example mobilenet.onnx */
            filename: string;
            inputs: components["schemas"]["InspectedTensorDto"][];
            /** @description Operators and how often each occurs */
            ops: {
                [key: string]: number;
            };
            /** @example 13 */
            opset?: number | null;
            /** @description Inferred shapes once every input dimension is bound; otherwise as the model declares them */
            outputs: components["schemas"]["InspectedTensorDto"][];
            /** @description Why a job with this model and these shapes would be refused; null when it would be accepted */
            problem?: string | null;
            size: number;
            /**
             * @description Input dimensions that inputShapes must bind
             * @example [
             *       "x[batch]"
             *     ]
             */
            unboundDimensions: string[];
            /**
             * @description Operators the model compiler does not support
             * @example [
             *       "NonMaxSuppression"
             *     ]
             */
            unsupportedOps: string[];
            /** Format: uuid */
            uploadId: string;
        };
        ModelProfileDto: {
            /** @description The intermediate tensors' buffers, bytes */
            activationBytes: number;
            /**
             * @description How the times were taken: on the CPU itself, under an emulator (the shares tell where the work is; the times are not the device's), or as WebAssembly
             * @enum {string}
             */
            clock: "native" | "emulated" | "wasm";
            /** @description Machine code of the compiled model (its object's code sections), bytes */
            codeBytes: number;
            flops: number;
            /** @description flops over latencyMs */
            gflops: number;
            /** @description Every kernel, slowest first */
            kernels: components["schemas"]["KernelProfileDto"][];
            /** @description The kernels' times added up, per run, ms: the rest of the latency is the entry point's own work */
            kernelsMs: number;
            /** @description Median time of one run after warm-up, ms */
            latencyMs: number;
            /** @description Peak resident memory of the profiling run, bytes */
            peakMemoryBytes?: number | null;
            /** @description Timed runs */
            runs: number;
            weightsBytes: number;
        };
        ModelRefDto: {
            /**
             * @description Threads the compiled model's kernels may use (default 1): a pthread pool that starts on the first run (link with -lpthread where the C library needs it); wasm32 runs on one
             * @example 4
             */
            threads?: number;
            /**
             * Format: uuid
             * @description An upload holding the .onnx file
             */
            uploadId: string;
        };
        ModelTensorDto: {
            /** @example float32 */
            dtype: string;
            name: string;
            shape: number[];
        };
        OutputComparisonDto: {
            count: number;
            /** @example float32 */
            dtype: string;
            /** @description How the absolute errors are distributed (reports made before it was added lack it) */
            errorHistogram?: components["schemas"]["ErrorHistogramDto"];
            maxAbsError: number;
            maxRelError: number;
            /** @description Largest distance in units in the last place, over the elements whose reference is larger than atol in magnitude (near zero the absolute error is what counts) */
            maxUlp: number;
            mismatches: number;
            /** @example y */
            name: string;
            /** @description Elements where NaN or an infinity on one side is not matched on the other */
            nanInfMismatches: number;
            passed: boolean;
            tolerance: components["schemas"]["ToleranceUsedDto"];
            /** @description Present when the check says little: at least 90% of the reference's values lie within atol of zero, so any answer of that size passes. Says how many, and what to do */
            weak?: string;
            worst?: components["schemas"]["WorstElementDto"] | null;
            /** @description The elements with the largest errors, failing ones first, worst first (at most 8) */
            worstElements?: components["schemas"]["WorstElementEntryDto"][];
        };
        PresetDto: {
            /**
             * @description Other names for the same preset
             * @example [
             *       "h100",
             *       "h200"
             *     ]
             */
            aliases: string[];
            available: boolean;
            /** @example neoverse-v1 */
            cpu?: string | null;
            description: string;
            features: string[];
            /** @example graviton3 */
            name: string;
            /** @example aarch64-linux-gnu */
            target: string;
        };
        ProgramCheckDto: {
            args?: string[];
            /**
             * @description Expected { stdout, exitCode }; without it, a reference build on the worker's host says what to expect
             * @example {
             *       "exitCode": 0,
             *       "stdout": "hello\n"
             *     }
             */
            expect?: Record<string, never>;
            /** @description Standard input */
            stdin?: string;
            /** @example 10000 */
            timeoutMs?: number;
        };
        ProgramRunDto: {
            exitCode?: number | null;
            expectedExitCode?: number | null;
            expectedStdout?: string | null;
            /** @description Peak resident set size of the run in kB (ru_maxrss, measured with GNU time): of the program natively, of qemu-user with the guest it emulates (so it includes the emulator's own memory), or of Node running the wasm module; null where it was not measured */
            peakMemoryKb?: number | null;
            signal?: string | null;
            stderr: string;
            stdout: string;
            timedOut: boolean;
            wallMs: number;
        };
        QuotaLimitsDto: {
            /**
             * @description Builds queued, waiting or running at once; 0: no limit
             * @example 64
             */
            concurrentBuilds: number;
            /**
             * @description Requests per minute, all the tenant's keys together; 0: no limit
             * @example 1200
             */
            requestsPerMinute: number;
            /**
             * @description Bytes of uploads and artifacts; 0: no limit
             * @example 10737418240
             */
            storageBytes: number;
            /**
             * @description Bytes of one upload
             * @example 67108864
             */
            uploadBytes: number;
        };
        QuotasDto: {
            limits: components["schemas"]["QuotaLimitsDto"];
            usage: components["schemas"]["QuotaUsageDto"];
        };
        QuotaUsageDto: {
            /**
             * @description Builds queued, waiting or running now
             * @example 3
             */
            activeBuilds: number;
            /**
             * @description Bytes of uploads and artifacts stored now
             * @example 1048576
             */
            storageBytes: number;
        };
        ReferenceFileDto: {
            /** @description The file as text. Give this or uploadId. */
            content?: string;
            /**
             * @description Path relative to the reference's folder; the same rules as source.files
             * @example saxpy_ref.c
             */
            path: string;
            /**
             * Format: uuid
             * @description An upload holding the file's bytes. Give this or content.
             */
            uploadId?: string;
        };
        ReferenceSourceDto: {
            /** @description The reference implementation, in the job's language, defining the same entry (a kernel check) or main (a program check) */
            files: components["schemas"]["ReferenceFileDto"][];
            /**
             * @description CUDA kernel checks only: the reference is a host function with the kernel's signature in C or C++ (default c++)
             * @enum {string}
             */
            language?: "c" | "c++";
            /**
             * @description Compiler options for the reference, from the same allow-list as source.options; default: the job's options (none for a CUDA job's C or C++ reference). Fast-math and FP contraction are always off.
             * @example [
             *       "-O2"
             *     ]
             */
            options?: string[];
        };
        SourceDto: {
            /** @description An uploaded tar, tar.gz or zip archive of the project: every file of the language in it is compiled, the rest (headers, data) is available to the build */
            archive?: components["schemas"]["ArchiveRefDto"];
            /**
             * @description Preprocessor macros (-DNAME=value)
             * @example {
             *       "N": "1024"
             *     }
             */
            defines?: {
                [key: string]: string;
            };
            /** @description Up to 500 files; translation units are compiled, headers are available to #include. Give files, an archive, or both. */
            files?: components["schemas"]["SourceFileDto"][];
            /**
             * @description The source language. Aliases are accepted (cpp and cxx for c++, cu for cuda, rs for rust, golang for go, ll for llvm-ir, f90 for fortran). GET /v1/targets lists the languages of each target.
             * @example c
             * @enum {string}
             */
            language: "c" | "c++" | "llvm-ir" | "fortran" | "go" | "rust" | "cuda" | "hip";
            /**
             * @description Compiler options, from an allow-list
             * @example [
             *       "-O3",
             *       "-std=c11",
             *       "-Wall"
             *     ]
             */
            options?: string[];
            /**
             * @description The toolchain, when the language has more than one: c and c++ are built by clang unless this is "gcc" (GCC 12, Linux targets only, no verification). GET /v1/targets lists each target's live toolchains.
             * @example gcc
             */
            toolchain?: string;
        };
        SourceFileDto: {
            /**
             * @description The file as text. Give this or uploadId.
             * @example void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] += a * x[i]; }
             */
            content?: string;
            /**
             * @description Path relative to the project folder; no "..", no absolute paths
             * @example saxpy.c
             */
            path: string;
            /**
             * Format: uuid
             * @description An upload holding the file's bytes. Give this or content.
             */
            uploadId?: string;
        };
        TargetCatalogDto: {
            presets: components["schemas"]["PresetDto"][];
            targets: components["schemas"]["TargetDto"][];
        };
        TargetDescriptorDto: {
            abi?: string | null;
            /**
             * @description The CPU, or for a GPU target its architecture (sm_89, gfx942)
             * @example cortex-a72
             */
            cpu?: string | null;
            /**
             * @example [
             *       "+neon"
             *     ]
             */
            features?: string[];
            /** @enum {string|null} */
            floatAbi?: "hard" | "soft" | "softfp" | null;
            /** @description For a GPU target: {"arch": "sm_90"} instead of "cpu" */
            gpu?: components["schemas"]["GpuDescriptorDto"] | null;
            /**
             * @description Implied by the triple; when given, must agree with it
             * @enum {string|null}
             */
            libc?: "glibc" | "wasi-libc" | null;
            /**
             * @description Implied by the triple; when given, must agree with it
             * @enum {string|null}
             */
            os?: "linux" | "wasi" | "cuda" | "amdhsa" | null;
            /**
             * @description A triple or catalog name (GET /v1/targets), such as nvptx64-nvidia-cuda
             * @example aarch64-unknown-linux-gnu
             */
            triple: string;
        };
        TargetDto: {
            /** @description Whether a live worker can build it now */
            available: boolean;
            /** @description CPU names accepted in a descriptor's "cpu" (from the live toolchain) */
            cpus: string[];
            description: string;
            /** @description Target features accepted in a descriptor's "features" (with + or -), from the live toolchain */
            features: string[];
            /**
             * @description How to group it: host CPUs, WebAssembly, GPUs
             * @enum {string}
             */
            kind: "cpu" | "wasm" | "gpu";
            /**
             * @description Languages Kiln can build for it
             * @example [
             *       "c",
             *       "c++",
             *       "fortran"
             *     ]
             */
            languages: string[];
            /**
             * @description Languages a live worker builds for it now; "c@gcc" is C with the gcc toolchain (source.toolchain), the plain name the language's own toolchain
             * @example [
             *       "c",
             *       "c++",
             *       "c@gcc"
             *     ]
             */
            liveLanguages: string[];
            /** @example aarch64-linux-gnu */
            name: string;
            /** @enum {string} */
            os: "linux" | "wasi" | "cuda" | "amdhsa";
            /** @description Per language (and language@toolchain for other toolchains), the outputs it can produce for this target */
            outputs: {
                [key: string]: string[];
            };
            /**
             * @description The worker pool whose queue builds for this target go to
             * @example cpu
             */
            pool: string;
            /** @description Why it is not available */
            reason?: string | null;
            /**
             * @description How live workers run its code
             * @example [
             *       "qemu-aarch64"
             *     ]
             */
            runners: string[];
            toolchains: components["schemas"]["ToolchainDto"][];
            /** @example aarch64-unknown-linux-gnu */
            triple: string;
            /**
             * @description For a GPU target, its vendor
             * @enum {string|null}
             */
            vendor?: "nvidia" | "amd" | null;
            /** @description Whether a live worker can verify builds for it now */
            verifiable: boolean;
            /**
             * @description The pool of workers that run what is built for it; null for GPU targets (NVIDIA GPU builds go to verify-cuda-sm_XX, one pool per architecture; AMD GPU builds have no runner)
             * @example verify-aarch64
             */
            verifyPool?: string | null;
            /** @description How many live workers serve it */
            workers: number;
        };
        TenantRefDto: {
            /** Format: uuid */
            id: string;
            /** @example default */
            name: string;
        };
        TensorUploadRefDto: {
            /**
             * Format: uuid
             * @description An upload (POST /v1/uploads) holding the tensor as raw little-endian bytes: exactly the shape's element count times the dtype's size
             */
            uploadId: string;
        };
        TimingsDto: {
            /** @description From start until the compile finished */
            compileMs?: number | null;
            /** @description From creation until a worker started it */
            queuedMs?: number | null;
            /** @description Time spent inside toolchain processes */
            toolchainMs?: number | null;
            /** @description From creation until the build finished */
            totalMs?: number | null;
            /** @description From the end of the compile until verification finished */
            verifyMs?: number | null;
        };
        ToleranceDto: {
            /** @example 0.000001 */
            atol?: number;
            /**
             * @description Elements within this many units in the last place also pass
             * @example 4
             */
            maxUlp?: number;
            /** @example 0.00001 */
            rtol?: number;
        };
        ToleranceUsedDto: {
            atol: number;
            maxUlp?: number | null;
            rtol: number;
        };
        ToolchainDto: {
            /** @example clang */
            key: string;
            /** @example 19.1.7 */
            version: string;
        };
        ToolchainRefDto: {
            /** @example clang */
            key: string;
            /** @example 19.1.7 */
            version: string;
        };
        UploadDto: {
            /** @example application/octet-stream */
            contentType: string;
            /** Format: date-time */
            createdAt: string;
            /** @example project.tar */
            filename: string;
            /** Format: uuid */
            id: string;
            sha256: string;
            size: number;
        };
        UploadListDto: {
            /** @description Newest first */
            items: components["schemas"]["UploadDto"][];
            /** @description Pass as cursor for the next page; null on the last page */
            nextCursor: string | null;
        };
        VerificationDto: {
            /** @enum {string} */
            kind: "kernel" | "program" | "model";
            outputs: components["schemas"]["OutputComparisonDto"][];
            /** @description A model job with verify.profile: the build profiled on this runner */
            profile?: components["schemas"]["ModelProfileDto"];
            /** @description A model job with verify.profile whose profiling run failed: why (the check's verdict stands) */
            profileError?: string;
            program?: components["schemas"]["ProgramRunDto"];
            /** @description What ran, by sha256 (reports made before it was added lack it) */
            ran?: components["schemas"]["VerifiedFileDto"];
            /** @description What the outputs were compared with */
            reference: string;
            runMs: number;
            /**
             * @description How the code ran; for not-run, the pool that no runner served
             * @example qemu-aarch64
             */
            runner: string;
            seed?: number | null;
            /**
             * @description passed or failed: the verdict on the outputs. unfinished: the run went past its time limit, so nothing was compared (the build fails). not-run: no runner that can run the code served its pool within verify.deviceWaitSeconds; the build succeeds with its artifacts, unproven
             * @enum {string}
             */
            status: "passed" | "failed" | "unfinished" | "not-run";
            /** @description One line: what passed, or which output and element failed */
            summary: string;
            worker: string;
        };
        VerifiedFileDto: {
            /**
             * @description The build's artifact with the same bytes: the delivered executable a program check ran, else the bundle's own program (verify/program); null for none
             * @example main
             */
            artifact?: string | null;
            /**
             * @description The file of the verification bundle that ran
             * @example program
             */
            file: string;
            /**
             * @description Its sha256, taken before it ran
             * @example 9f2c…
             */
            sha256: string;
        };
        VerifyDto: {
            /** @description The entry's arguments, in order */
            args?: components["schemas"]["KernelArgDto"][];
            /**
             * @description How long a compiled build may wait, seconds, while no live runner can run its code (no worker with a GPU of its architecture, say). Then the build ends with its artifacts and verification "not-run" (not "passed"). Default: the service's KILN_VERIFY_DEVICE_WAIT_SECONDS (900). A build that a runner has taken is not cut short by it
             * @example 900
             */
            deviceWaitSeconds?: number;
            /**
             * @description A kernel check: the C function to call (for CUDA, the __global__ function to launch)
             * @example saxpy
             */
            entry?: string;
            /** @description CUDA kernel checks only (and required there): how the kernel is launched */
            launch?: components["schemas"]["KernelLaunchDto"];
            /**
             * @description The entry's linkage; default: the source language's
             * @enum {string}
             */
            linkage?: "c" | "c++";
            /**
             * @description Model checks on CPU and WebAssembly targets only: also profile the build on its runner. The report then has `profile`: each kernel of the compiled graph (after fusion) with the ONNX nodes it covers, its FLOPs, time and share, and the model's latency (median of the timed runs after warm-up), peak memory, weight and code size. `true`, or { "runs": N } timed runs (1 to 100; default 20 natively, 3 under an emulator or as WebAssembly, where times are the emulator's and the shares are what tells).
             * @example true
             */
            profile?: boolean | {
                runs?: number;
            };
            /** @description A whole-program check instead of a kernel check */
            program?: components["schemas"]["ProgramCheckDto"];
            /** @description A separate reference source, built for the worker's host with the same harness (and the job's defines) instead of the job's own sources. Not with uploaded expected outputs or program.expect. */
            reference?: components["schemas"]["ReferenceSourceDto"];
            /**
             * @description Seed of the random inputs; stored, so a check can be repeated bit for bit
             * @example 7
             */
            seed?: number;
            /**
             * @description How long one run of the check may take, ms. Kernel and program checks: 100 to 120000, default 20000. Model checks: 100 to 3600000; by default it follows the work, 20000 plus the model's FLOPs at the runner's speed (natively, under qemu, as WebAssembly)
             * @example 20000
             */
            timeoutMs?: number;
            tolerance?: components["schemas"]["ToleranceDto"];
        };
        WebhookDeliveryDto: {
            /**
             * @description The attempt's number, from 1
             * @example 1
             */
            attempt: number;
            /** Format: date-time */
            attemptedAt: string;
            /** @example 84 */
            durationMs: number;
            /** @example ECONNREFUSED: connect ECONNREFUSED 203.0.113.7:443 */
            error?: string | null;
            /** @enum {string} */
            event: "job.finished";
            /**
             * Format: uuid
             * @description The event's id (the body's "id" and the Kiln-Delivery header), the same in every attempt
             */
            eventId: string;
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            jobId: string;
            /**
             * Format: date-time
             * @description When the next attempt is due, for a retrying delivery
             */
            nextRetryAt?: string | null;
            /**
             * @description delivered: the receiver answered 2xx; retrying: it did not, and another attempt is due at nextRetryAt; failed: the last attempt failed
             * @enum {string}
             */
            status: "delivered" | "retrying" | "failed";
            /**
             * @description The receiver's HTTP status; null when there was no answer
             * @example 200
             */
            statusCode?: number | null;
            /** @example https://ci.example.com/kiln */
            url: string;
        };
        WebhookDeliveryListDto: {
            items: components["schemas"]["WebhookDeliveryDto"][];
        };
        WebhookSecretDto: {
            /**
             * Format: date-time
             * @description When this secret was made
             */
            createdAt: string;
            /**
             * @description The key of the HMAC-SHA256 in the Kiln-Signature header of every webhook
             * @example whsec_3q2+7w...
             */
            secret: string;
        };
        WhoAmIDto: {
            /** @description The key that made this request */
            key: components["schemas"]["KeyRefDto"];
            /** @description The tenant the key belongs to; everything the key sees is scoped to it */
            tenant: components["schemas"]["TenantRefDto"];
        };
        WorstElementDto: {
            actual: number | string;
            /** @description A number, or NaN / Infinity / a 64-bit integer as a string */
            expected: number | string;
            index: number;
        };
        WorstElementEntryDto: {
            /** @description |actual - expected|; null when one side is NaN or infinite */
            absError?: number | null;
            actual: number | string;
            /** @description A number, or NaN / Infinity / a 64-bit integer as a string */
            expected: number | string;
            index: number;
            passed: boolean;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    Artifacts_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ArtifactDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Artifacts_content: {
        parameters: {
            query?: {
                /** @description With object storage that can sign URLs, redirect to a short-lived URL (default) or stream through the API */
                redirect?: "true" | "false";
            };
            header?: {
                /** @description The ETag ("<sha256>") the range was taken from: a range of other bytes gets the whole file */
                "If-Range"?: string;
                /** @description One byte range, such as bytes=0-1023 or bytes=-512: the answer is a 206 with Content-Range (several ranges get the whole file) */
                Range?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The artifact's bytes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The bytes of the range asked for, with Content-Range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description A redirect to a short-lived presigned URL */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The range lies past the end of the artifact; Content-Range gives its size */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Jobs_list: {
        parameters: {
            query?: {
                /** @description nextCursor from the previous page */
                cursor?: string;
                /** @description Only jobs whose id starts with these characters (4 or more hex digits, dashes as in the id): how a short id, as the console shows it, is found */
                idPrefix?: string;
                limit?: number;
                status?: "queued" | "running" | "succeeded" | "failed" | "canceled";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Newest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobListDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Jobs_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description A retried request with the same key returns the same job (200) instead of creating another */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateJobDto"];
            };
        };
        responses: {
            /** @description A job with this Idempotency-Key already exists; it is returned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description The job is accepted; one build per target is queued */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description The request names an unknown target, has a bad path or option, or is empty; the message says which */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The body was not sent with Content-Type: application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The Idempotency-Key was already used for a different request, or the model could not be read within the time or memory the API gives one model (KILN_MODEL_CHECK_TIMEOUT_MS, KILN_MODEL_CHECK_MEMORY_MB) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The queue is unavailable, or every thread that reads models is busy; nothing was created */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Jobs_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such job for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Jobs_cancel: {
        parameters: {
            query?: {
                /** @description false (the default): cancel the builds that have not finished. true: delete the job, which must have finished, with its builds, their events, artifacts, verification reports and webhook deliveries, and every stored object nothing else refers to; its uploads stay (DELETE /v1/uploads/{id}) */
                purge?: boolean;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Builds that had not finished are canceled; finished ones keep their result */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description With purge=true: the job and everything it made are deleted; the tenant's storage usage goes down by the objects nothing else refers to */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such job for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description With purge=true: some builds of the job have not finished; cancel it first */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Jobs_events: {
        parameters: {
            query?: never;
            header?: {
                /** @description Resume after this event (an EventSource sends it when it reconnects) */
                "Last-Event-ID"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Server-sent events: `build` for every state change of a build ({ buildId, target, from, to, at, worker, message }, the id is the event's sequence number), then `end` ({ jobId, status }) once every build has finished. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such job for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The tenant holds as many event streams open as it may (KILN_MAX_EVENT_STREAMS_PER_TENANT); close one, or poll the job. Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    JobWebhooks_list: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every attempt to deliver the job's webhook, oldest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryListDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such job for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Keys_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyListDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The key lacks the admin scope */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Keys_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateKeyDto"];
            };
        };
        responses: {
            /** @description The secret is in the response, and only there. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedApiKeyDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The key lacks the admin scope */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The body was not sent with Content-Type: application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Keys_revoke: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The key is revoked. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The key lacks the admin scope */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Models_compilers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The model compilers, the kinds of target each serves and the operators each supports */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelCompilersDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Models_inspect: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["InspectModelDto"];
            };
        };
        responses: {
            /** @description What the model takes and gives, its operators, and whether a job with it would be accepted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelInspectionDto"];
                };
            };
            /** @description The upload is not a readable ONNX model, claims more than it holds (a tensor of more dimensions or elements than its data, more nodes than KILN_MODEL_MAX_NODES), or inputShapes is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such upload for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The body was not sent with Content-Type: application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The model could not be read within the time or memory the API gives one model (KILN_MODEL_CHECK_TIMEOUT_MS, KILN_MODEL_CHECK_MEMORY_MB) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Every thread that reads models is busy and too many requests wait; try again after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Quotas_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tenant's limits and what it uses of them now */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QuotasDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Targets_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every target Kiln knows, and whether a live worker can build it now */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TargetCatalogDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Uploads_list: {
        parameters: {
            query?: {
                /** @description nextCursor from the previous page */
                cursor?: string;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadListDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Uploads_create: {
        parameters: {
            query: {
                filename: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The file's bytes, streamed as the request body */
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Over KILN_MAX_UPLOAD_BYTES; nothing is kept */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Uploads_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    Uploads_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The upload is deleted, and its stored bytes unless something else still refers to them; the tenant's storage usage goes down accordingly */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description No such upload for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A job whose builds have not finished needs the upload; the message names the job */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    WebhookSecret_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tenant's webhook signing secret (made now if there was none) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookSecretDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The key lacks the admin scope */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    WebhookSecret_rotate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A new secret; it signs every delivery attempt from now on, and the old one no longer does */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookSecretDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The key lacks the admin scope */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
    WhoAmI_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller: its tenant and the key it used */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WhoAmIDto"];
                };
            };
            /** @description No API key, or one that is not valid (unknown or revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description The API key lacks the scope this operation needs (read, build or admin; the message names it) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description An internal error; the message gives the request id to quote */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
            /** @description A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorDto"];
                };
            };
        };
    };
}
