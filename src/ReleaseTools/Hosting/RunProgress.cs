using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Hosting
{
    /// <summary>
    /// The progress bars of one run: the run itself (batch and instances done, the latest instance and step as the
    /// current operation), a child bar while the package is acquired, and a child bar per instance while its package
    /// upload is under way. Every bar it opens it also completes, so none is left behind in the console.
    /// </summary>
    internal sealed class RunProgress
    {
        private const int RunId = 1;
        private const int PackageId = 2;
        private const int FirstUploadId = 100;

        private readonly Action<ProgressRecord> _write;
        private readonly string _activity;
        // Records are never changed once written (hosts may keep them): each update is a new record with the same id.
        private readonly Dictionary<string, ProgressRecord> _uploads = new Dictionary<string, ProgressRecord>(StringComparer.OrdinalIgnoreCase);
        private ProgressRecord? _package;
        private int _nextUploadId = FirstUploadId;
        private int _total;
        private int _batchCount;
        private int _currentBatch;
        private int _completed;
        private string? _currentOperation;

        /// <param name="write">WriteProgress of the cmdlet (called on the pipeline thread only).</param>
        public RunProgress(string activity, Action<ProgressRecord> write)
        {
            _activity = activity;
            _write = write;
            // Shown at once, so the package bar that may come first has its parent.
            WriteRun();
        }

        public void Started(int totalTargets, int batchCount)
        {
            CompletePackage();
            _total = totalTargets;
            _batchCount = batchCount;
            WriteRun();
        }

        public void Package(PackageProgress package)
        {
            _package = new ProgressRecord(PackageId, "Acquiring the package", package.FromCache ? $"{package.Source} (cached)" : $"{package.Source}: {FormatBytes(package.BytesReceived)}")
            {
                ParentActivityId = RunId,
            };
            if (package.TotalBytes is long totalBytes && totalBytes > 0)
            {
                _package.PercentComplete = (int)Math.Min(100, package.BytesReceived * 100 / totalBytes);
            }

            _write(_package);
        }

        public void BatchStarted(int batch)
        {
            CompletePackage();
            _currentBatch = batch;
            WriteRun();
        }

        public void Step(InstanceStepStarted step)
        {
            _currentOperation = $"{step.InstanceId}: {step.Step}{(step.Attempt > 1 ? $" (attempt {step.Attempt})" : "")}";
            WriteRun();
        }

        public void Upload(PackageUploadProgress upload)
        {
            var activityId = _uploads.TryGetValue(upload.InstanceId, out var previous) ? previous.ActivityId : _nextUploadId++;
            var record = new ProgressRecord(activityId, $"Sending the package to {upload.InstanceId}", $"{FormatBytes(upload.BytesSent)} of {FormatBytes(upload.TotalBytes)} sent")
            {
                ParentActivityId = RunId,
                PercentComplete = upload.TotalBytes > 0 ? (int)Math.Min(100, upload.BytesSent * 100 / upload.TotalBytes) : 100,
            };
            _uploads[upload.InstanceId] = record;
            _write(record);
        }

        public void InstanceCompleted(string instanceId)
        {
            if (_uploads.TryGetValue(instanceId, out var upload))
            {
                _uploads.Remove(instanceId);
                Complete(upload);
            }

            _completed++;
            WriteRun();
        }

        /// <summary>Completes every bar still open, the run's last.</summary>
        public void Finish()
        {
            CompletePackage();
            foreach (var upload in _uploads.Values.ToList())
            {
                Complete(upload);
            }

            _uploads.Clear();
            _write(new ProgressRecord(RunId, _activity, "Done") { RecordType = ProgressRecordType.Completed, PercentComplete = 100 });
        }

        public static string FormatBytes(long bytes)
            => bytes >= 1 << 20 ? (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB"
            : bytes >= 1 << 10 ? (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB"
            : bytes.ToString(CultureInfo.InvariantCulture) + " bytes";

        private void CompletePackage()
        {
            if (_package is not null)
            {
                Complete(_package);
                _package = null;
            }
        }

        private void Complete(ProgressRecord record)
        {
            _write(new ProgressRecord(record.ActivityId, record.Activity, "Done")
            {
                ParentActivityId = record.ParentActivityId,
                PercentComplete = 100,
                RecordType = ProgressRecordType.Completed,
            });
        }

        private void WriteRun()
        {
            var status = _total == 0 ? "Preparing"
                : _batchCount > 0 ? $"Batch {Math.Max(_currentBatch, 1)} of {_batchCount}: {_completed} of {_total} instance(s) done"
                : $"{_completed} of {_total} instance(s) done";
            var record = new ProgressRecord(RunId, _activity, status) { CurrentOperation = _currentOperation };
            if (_total > 0)
            {
                record.PercentComplete = Math.Min(100, _completed * 100 / _total);
            }

            _write(record);
        }
    }
}
