//! How a console or a headless command reaches the team's recorder.

use clap::Args;

use crate::team::{RecorderChoice, RecorderRef};

#[derive(Debug, Clone, Default, Args)]
pub struct RecorderArgs {
    /// The team's recorder Service, reached through the API server's service proxy
    /// (default: palisade/palisade-recorder, or `recorder = "NS/NAME"` in contexts.toml)
    #[arg(long, value_name = "NS/NAME", value_parser = RecorderRef::parse, conflicts_with = "no_recorder")]
    pub recorder: Option<RecorderRef>,
    /// Use the local journal only: do not ask the team's recorder
    #[arg(long)]
    pub no_recorder: bool,
}

impl RecorderArgs {
    /// With the context's `recorder` setting from contexts.toml, if any.
    pub fn choice(&self, configured: Option<&RecorderChoice>) -> RecorderChoice {
        RecorderChoice::resolve(self.no_recorder, self.recorder.as_ref(), configured)
    }
}
