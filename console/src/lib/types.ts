/** The API's types, generated from openapi/openapi.json: the console writes no request or response shapes of its own. */
import type { components, paths } from '../../../clients/sdk/schema';

export type { components, paths };
type S = components['schemas'];
export type Job = S['JobDto'];
export type Build = S['BuildDto'];
export type BuildEvent = S['BuildEventDto'];
export type Artifact = S['ArtifactDto'];
export type Diagnostic = S['DiagnosticDto'];
export type Verification = S['VerificationDto'];
export type OutputComparison = S['OutputComparisonDto'];
export type CreateJob = S['CreateJobDto'];
export type TargetCatalog = S['TargetCatalogDto'];
export type CatalogTarget = S['TargetDto'];
export type Preset = S['PresetDto'];
export type JobList = S['JobListDto'];
export type JobSummary = S['JobSummaryDto'];
export type Upload = S['UploadDto'];
export type WhoAmI = S['WhoAmIDto'];
export type ModelInspection = S['ModelInspectionDto'];
export type ModelCompilers = S['ModelCompilersDto'];
export type JobStatus = NonNullable<paths['/v1/jobs']['get']['parameters']['query']>['status'];
