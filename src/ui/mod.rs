//! Rendering: `view(&State, &Theme, &mut Frame)`. Pure: reads state, draws, changes nothing.
